import { engineSuite } from './lib/eio-suite.mjs';

engineSuite('v6');
