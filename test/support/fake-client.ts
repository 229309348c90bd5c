/**
 * A stand-in SDK client for unit tests: an object with the client class's prototype and the test's
 * own members (`send`, and `config` where lib-storage reads it). The SDK's paginators accept only
 * instances of the client class, which a plain `{ send }` is not.
 */
export function fakeClient<C extends object>(Client: { prototype: C }, members: object): C {
  return Object.assign(Object.create(Client.prototype) as C, members);
}
