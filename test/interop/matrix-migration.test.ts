/** Interop matrix: NAT rebinding (port, address) and active connection migration. */
import { matrixSuite } from './runner/suite.js';

matrixSuite('migration', ['rebind-port', 'rebind-addr', 'connectionmigration']);
