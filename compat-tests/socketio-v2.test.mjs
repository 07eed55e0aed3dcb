import { socketioSuite } from './lib/sio-suite.mjs';

socketioSuite('v2');
