/**
 * The other half of fillStore, in its own process:
 *   node --import tsx store-fill-child.ts <store dir> <template.json> <pathname> <from> <to>
 */
import { readFileSync } from 'node:fs';
import { writeEntries, type MetaDocument } from './store-fill.js';

const [dir, templateFile, pathname, from, to] = process.argv.slice(2);
if (!dir || !templateFile || !pathname || !from || !to) {
  process.stderr.write('usage: store-fill-child.ts <store dir> <template.json> <pathname> <from> <to>\n');
  process.exit(2);
}
const saved = JSON.parse(readFileSync(templateFile, 'utf8')) as { doc: MetaDocument; body: string };
writeEntries(dir, { doc: saved.doc, body: Buffer.from(saved.body, 'base64') }, pathname, Number(from), Number(to));
