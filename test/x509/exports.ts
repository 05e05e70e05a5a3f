/** The public X.509 API as the tests use it (plus the alert table). */
export * from '../../src/x509/index.js';
export { AlertDescription } from '../../src/errors.js';
