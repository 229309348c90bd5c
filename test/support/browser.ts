/**
 * The browser of the browser tests: Debian's chromium, driven by playwright-core. A missing browser fails
 * the tests, on purpose (CI installs it, so a missing browser is a broken setup, never a skip).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Where screenshots go (kept by CI). */
export const RESULTS = join(__dirname, '..', '..', 'test-results', 'browser');

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium was not found at ${CHROMIUM}. The browser tests need it and never skip: ` +
        'install it with `apt-get install -y chromium` (CI does), or set CHROMIUM_PATH.',
    );
  }
  mkdirSync(RESULTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
}
