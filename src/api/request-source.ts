// Who wrote a resource, from the `x-aegis-source` header the CLI sets (`cli`, `file:<dir>`); `api` otherwise.
export const sourceOf = (headers: Record<string, unknown>): string => (typeof headers['x-aegis-source'] === 'string' ? headers['x-aegis-source'] : 'api');
