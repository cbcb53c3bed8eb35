// Writes persisted-operations.json — the trusted documents: every GraphQL operation the dashboard (dashboard/) and
// the CLI (src/cli/) send, keyed by the sha256 of its text exactly as sent (`bun run persisted:build`); with
// --check fails when the file is not current (CI). PERSISTED_ONLY=1 runs only these for non-admins (docs/clients.md).
//
// Documents are found in the source, not by convention: every string the compiler can fold to a constant (literals,
// templates and `+` over constants of the same file or imported from a scanned file) that parses as a GraphQL
// document with an operation. A document built from values only known at run time cannot be trusted ahead of time:
// a template that parses as an operation once its holes are filled with names fails the build, saying where.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parse as parseJs } from 'acorn';
import { Kind, parse } from 'graphql';
import { sha256Hex } from '../src/persisted-operations';

// ESTree, as far as this script reads it.
interface Node {
  type: string;
  start: number;
  [key: string]: any;
}

const root = resolve(import.meta.dir, '..');
const manifestPath = join(root, 'persisted-operations.json');
const SOURCES = ['dashboard', 'src/cli'];

// TypeScript to JavaScript (Bun's transpiler), then ESTree (acorn): the constant strings are the same in both.
const transpiler = new Bun.Transpiler({ loader: 'ts' });
const programs = new Map<string, Node>(
  SOURCES.flatMap((dir) => walk(join(root, dir)))
    .sort()
    .map((file) => [file, parseJs(transpiler.transformSync(readFileSync(file, 'utf8')), { ecmaVersion: 'latest', sourceType: 'module' }) as unknown as Node]),
);

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return walk(path);
    return /\.tsx?$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

const isConcatenation = (node: Node) => node.type === 'BinaryExpression' && node.operator === '+';

/** The constant string an expression always is, or null when it depends on something not constant. */
function fold(node: Node, file: string, seen = new Set<string>()): string | null {
  if (node.type === 'Literal') return typeof node.value === 'string' ? node.value : null;
  if (node.type === 'TemplateLiteral') {
    let text = node.quasis[0].value.cooked as string;
    for (const [index, expression] of (node.expressions as Node[]).entries()) {
      const part = fold(expression, file, seen);
      if (part === null) return null;
      text += part + node.quasis[index + 1].value.cooked;
    }
    return text;
  }
  if (isConcatenation(node)) {
    const [left, right] = [fold(node.left, file, seen), fold(node.right, file, seen)];
    return left === null || right === null ? null : left + right;
  }
  if (node.type === 'Identifier') return constantNamed(node.name, file, seen);
  return null;
}

/** A top-level `const NAME = <constant>` of the file (exported or not), or one it imports from another scanned file. */
function constantNamed(name: string, file: string, seen: Set<string>): string | null {
  // `seen`: the names being folded now, so a constant defined through itself is no constant.
  const key = `${file}#${name}`;
  if (seen.has(key)) return null;
  seen.add(key);
  try {
    return declaredConstant(name, file, seen);
  } finally {
    seen.delete(key);
  }
}

function declaredConstant(name: string, file: string, seen: Set<string>): string | null {
  for (const top of programs.get(file)!.body as Node[]) {
    const statement = top.type === 'ExportNamedDeclaration' && top.declaration ? (top.declaration as Node) : top;
    if (statement.type === 'VariableDeclaration' && statement.kind === 'const') {
      for (const declaration of statement.declarations as Node[]) {
        if (declaration.id.type === 'Identifier' && declaration.id.name === name && declaration.init) return fold(declaration.init, file, seen);
      }
    }
    if (statement.type === 'ImportDeclaration') {
      const binding = (statement.specifiers as Node[]).find((specifier) => specifier.type === 'ImportSpecifier' && specifier.local.name === name);
      if (!binding) continue;
      const from = resolve(dirname(file), statement.source.value);
      const target = [`${from}.ts`, from].find((candidate) => programs.has(candidate));
      return target ? constantNamed(binding.imported.name, target, seen) : null;
    }
  }
  return null;
}

/** Whether the text is a GraphQL document holding an operation (a query, mutation or subscription). */
function isOperationDocument(text: string): boolean {
  if (!/\b(query|mutation|subscription)\b|^\s*\{/.test(text)) return false;
  try {
    return parse(text, { noLocation: true }).definitions.some((definition) => definition.kind === Kind.OPERATION_DEFINITION);
  } catch {
    return false;
  }
}

const operations = new Map<string, string>();
const dynamic: string[] = [];
for (const file of programs.keys()) {
  const visit = (node: Node): void => {
    if (node.type === 'Literal' || node.type === 'TemplateLiteral' || isConcatenation(node)) {
      const text = fold(node, file);
      if (text !== null) {
        if (isOperationDocument(text)) operations.set(sha256Hex(text), text);
        return;
      }
      // Not constant: an operation whose holes are names (a field, a type) is built at run time.
      if (node.type === 'TemplateLiteral' && isOperationDocument(node.quasis.map((quasi: Node) => quasi.value.cooked).join('x'))) {
        dynamic.push(`${relative(root, file)}: \`${node.quasis.map((quasi: Node) => quasi.value.cooked).join('${…}').slice(0, 100)}\``);
      }
    }
    for (const value of Object.values(node)) {
      for (const child of Array.isArray(value) ? value : [value]) if (child && typeof child === 'object' && typeof child.type === 'string') visit(child);
    }
  };
  visit(programs.get(file)!);
}

if (dynamic.length > 0) {
  console.error(`persisted-operations: these documents are built at run time, so no manifest can hold them; write each as a constant document with variables:\n  ${dynamic.join('\n  ')}`);
  process.exit(1);
}

const sorted = Object.fromEntries([...operations].sort(([a], [b]) => a.localeCompare(b)));
const written = `${JSON.stringify(sorted, null, 2)}\n`;
if (process.argv.includes('--check')) {
  const file = Bun.file(manifestPath);
  const current = (await file.exists()) ? await file.text() : '';
  if (current !== written) {
    console.error('persisted-operations.json is out of date: run `bun run persisted:build` and commit the result.');
    process.exit(1);
  }
  console.log(`persisted-operations.json is up to date (${operations.size} operations).`);
} else {
  await Bun.write(manifestPath, written);
  console.log(`wrote ${manifestPath} (${operations.size} operations)`);
}
