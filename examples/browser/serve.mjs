#!/usr/bin/env node
// Serves the browser example on 127.0.0.1 with an import map, so the page loads pqtls and @noble
// as plain ES modules with no bundler (a page on http://127.0.0.1 or localhost is a secure context).
//
//   node examples/browser/serve.mjs [--port 8080] [--root DIR]
//
// DIR is a project where pqtls is installed (node_modules/pqtls), or this repository after
// `npm run build` (the default). The example's own files are served at /.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = fileURLToPath(new URL('.', import.meta.url));
const { values } = parseArgs({ options: { port: { type: 'string', default: '8080' }, root: { type: 'string', default: join(here, '../..') } } });
const root = resolve(values.root);

/** pqtls's directory under root, and the URL path it is served at. */
function pqtlsDir() {
  if (existsSync(join(root, 'node_modules/pqtls/package.json'))) return { dir: join(root, 'node_modules/pqtls'), url: '/node_modules/pqtls' };
  const own = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  if (own.name === 'pqtls') return { dir: root, url: '' };
  throw new Error(`no pqtls under ${root}: install it there, or point --root at the pqtls repository`);
}

/** Each `exports` subpath by its browser condition (`pqtls/node` is an error module there), @noble by prefix. */
function importMap() {
  const { dir, url } = pqtlsDir();
  if (!existsSync(join(dir, 'dist/index.js'))) throw new Error(`${dir}/dist is missing: run npm run build`);
  const imports = {};
  for (const [sub, target] of Object.entries(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).exports)) {
    const file = typeof target === 'string' ? target : (target.browser ?? target.import ?? target.default);
    if (file?.endsWith('.js')) imports[`pqtls${sub.slice(1)}`] = `${url}/${file.slice(2)}`;
  }
  for (const name of readdirSync(join(root, 'node_modules/@noble'))) imports[`@noble/${name}/`] = `/node_modules/@noble/${name}/`;
  return { imports };
}

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.json': 'application/json' };
const map = importMap();

const server = createServer((req, res) => {
  const path = decodeURIComponent((req.url ?? '/').split('?')[0]);
  const file = path === '/' ? join(here, 'index.html') : existsSync(join(here, normalize(path))) && !path.includes('..') ? join(here, normalize(path)) : normalize(join(root, path));
  if ((!file.startsWith(root) && !file.startsWith(here)) || !existsSync(file)) {
    res.writeHead(404).end();
    return;
  }
  let body = readFileSync(file);
  if (file === join(here, 'index.html')) {
    body = body.toString('utf8').replace(/<!-- importmap:[^>]*-->/, `<script type="importmap">${JSON.stringify(map)}</script>`);
  }
  res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
  res.end(body);
});
server.listen(Number(values.port), '127.0.0.1', () => {
  console.log(`pqtls browser example: http://127.0.0.1:${server.address().port}/`);
});
