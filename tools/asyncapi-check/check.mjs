// Parses an AsyncAPI document with the official parser (@asyncapi/parser)
// and reports every diagnostic; exits 1 when any is an error, or when the
// document cannot be read or parsed at all.
//
// Usage: node check.mjs [FILE]   (default: ../../generated/asyncapi.yaml)

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';

const here = path.dirname(fileURLToPath(import.meta.url));
const file = path.resolve(process.argv[2] ?? path.join(here, '../../generated/asyncapi.yaml'));

const severityName = {
  [DiagnosticSeverity.Error]: 'error',
  [DiagnosticSeverity.Warning]: 'warning',
  [DiagnosticSeverity.Information]: 'info',
  [DiagnosticSeverity.Hint]: 'hint',
};

async function main() {
  let text;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    console.error(`asyncapi-check: cannot read ${file}: ${error.message}`);
    return 1;
  }
  const parser = new Parser();
  const { document, diagnostics } = await parser.parse(text, { source: file });
  let errors = 0;
  for (const diagnostic of diagnostics) {
    const severity = severityName[diagnostic.severity] ?? String(diagnostic.severity);
    if (diagnostic.severity === DiagnosticSeverity.Error) errors += 1;
    const line = (diagnostic.range?.start?.line ?? -1) + 1;
    const where = diagnostic.path?.length ? ` at ${diagnostic.path.join('.')}` : '';
    console.log(`${file}:${line}: ${severity}: ${diagnostic.message} [${diagnostic.code}]${where}`);
  }
  if (errors > 0 || document === undefined) {
    console.error(`asyncapi-check: ${file}: ${errors} error(s)`);
    return 1;
  }
  const channels = document.channels().length;
  const operations = document.operations().length;
  const messages = document.components().messages().length;
  console.log(
    `asyncapi-check: ${file}: valid AsyncAPI ${document.version()} ` +
      `(${channels} channels, ${operations} operations, ${messages} messages, ${diagnostics.length} diagnostics)`,
  );
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`asyncapi-check: ${error?.stack ?? error}`);
    process.exit(1);
  },
);
