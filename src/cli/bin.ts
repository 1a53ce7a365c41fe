#!/usr/bin/env node
// The package's bin (bundled with the AWS SDK into one file): `blue-green-lambda-pipeline history|dora`.
import { main } from './history-cli';

// The SDK is bundled at a fixed version: its notice about the Node versions of future SDK releases is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

void main(process.argv.slice(2)).then((code) => {
  // Exit once stdout has drained: a pipe may still hold a long --json answer.
  process.stdout.write('', () => process.exit(code));
});
