/**
 * The JSON Schema (draft 2020-12) of each data file: an array of the collection's records, whose
 * schema the connector declares. Shipped beside the data so that a person or a program receiving the
 * archive knows what each field is without our documentation.
 */
import type { CollectionSpec, JsonSchema } from '../lib/connectors/contract';

export const JSON_SCHEMA_DIALECT = 'https://json-schema.org/draft/2020-12/schema';

export function dataFileSchema(store: string, collection: CollectionSpec): JsonSchema {
  // A nested `$schema` is only allowed at a schema resource's root: the file's own root declares it.
  const { $schema: _dialect, $id: _id, ...items } = collection.recordSchema;
  return {
    $schema: JSON_SCHEMA_DIALECT,
    title: `${store}: ${collection.name}`,
    description: collection.description,
    type: 'array',
    items,
  };
}
