// Starts Express Gateway with the config directory given as the first argument
// (gateway.config.yml, system.config.yml, models/); tests/express_gateway.rs runs it.
const path = require('path');
const gateway = require(path.join(__dirname, 'node_modules', 'express-gateway'));
gateway().load(process.argv[2]).run();
