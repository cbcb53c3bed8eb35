// What the fuzz test (test/fuzz.test.ts) sends: fast-check arbitraries for HTTP requests and WebSocket sessions,
// derived from the printed schema (root fields, their arguments and types) and then broken on purpose: wrong types,
// deep nesting, huge strings, broken JSON, odd content types and headers, bad tokens.
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import {
  buildSchema,
  getNamedType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLObjectType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  isUnionType,
} from 'graphql';

const SCHEMA = buildSchema(readFileSync(new URL('../../schema/schema.graphql', import.meta.url), 'utf8'));

/**
 * Root fields the fuzzer never calls: they end the server or the fuzzer's own sessions (shutdown, logout, password
 * and account changes), or load the pool on purpose (diagnostic jobs are an admin's load generator).
 */
const EXCLUDED_ROOT_FIELDS = new Set(['shutdown', 'logout', 'changePassword', 'deleteUser', 'updateUser', 'submitDiagnosticJobs']);

/** Who sends a request; the fuzz test turns this into a token (or none) when it sends. */
export type Who = 'admin' | 'user' | 'revoked' | 'anonymous';
/** How the token is written into `Authorization` (or the WebSocket's connection_init payload). */
export type AuthForm = 'bearer' | 'lowercase' | 'bare' | 'trailing-garbage' | 'garbage-token' | 'huge' | 'basic' | 'empty' | 'bearer-only';

export interface Credentials {
  who: Who;
  form: AuthForm;
}

export interface HttpOperation {
  kind: 'http';
  /** Which generator made it, for the report. */
  family: string;
  method: string;
  /** Path and query string. */
  target: string;
  credentials: Credentials;
  headers: Record<string, string>;
  body: string | null;
  /** Sent as a stream (Transfer-Encoding: chunked, no Content-Length). */
  chunked: boolean;
}

export type WsFrame = { text: string } | { binary: number[] } | { awaitAck: true };

export interface WsOperation {
  kind: 'ws';
  family: string;
  protocol: string | null;
  /** Sent on the upgrade request. */
  credentials: Credentials;
  frames: WsFrame[];
}

export type FuzzOperation = HttpOperation | WsOperation;

// ---------------------------------------------------------------------------------------------------------------
// Values

/** An enum value: a bare name in a GraphQL literal, a string in JSON. */
class EnumName {
  constructor(readonly name: string) {}
}
/** Text used as is in both GraphQL and JSON (deep nesting, odd numbers). */
class Raw {
  constructor(readonly text: string) {}
}
type Value = null | boolean | number | string | EnumName | Raw | Value[] | { [key: string]: Value };

const isPlainObject = (value: Value): value is { [key: string]: Value } =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof EnumName) && !(value instanceof Raw);

function toGraphQL(value: Value): string {
  if (value instanceof Raw) return value.text;
  if (value instanceof EnumName) return value.name;
  if (Array.isArray(value)) return `[${value.map(toGraphQL).join(', ')}]`;
  if (isPlainObject(value)) return `{${Object.entries(value).map(([key, field]) => `${key}: ${toGraphQL(field)}`).join(', ')}}`;
  return JSON.stringify(value);
}

function toJson(value: Value): string {
  if (value instanceof Raw) return value.text;
  if (value instanceof EnumName) return JSON.stringify(value.name);
  if (Array.isArray(value)) return `[${value.map(toJson).join(',')}]`;
  if (isPlainObject(value)) return `{${Object.entries(value).map(([key, field]) => `${JSON.stringify(key)}:${toJson(field)}`).join(',')}}`;
  return JSON.stringify(value);
}

const nestedLists = (depth: number, inner = '1') => new Raw(`${'['.repeat(depth)}${inner}${']'.repeat(depth)}`);
const nestedObjects = (depth: number, key = 'a') => new Raw(`${`{"${key}":`.repeat(depth)}1${'}'.repeat(depth)}`);

/** Up to 20,000 levels, half of the time at most 300; shrinks towards the smallest depth that fails. */
const depthArb = fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 20_000 }));
/** JSON (variables, payloads) up to 100,000 levels: 200–600 KB of brackets. */
const jsonDepthArb = fc.oneof(depthArb, fc.integer({ min: 1, max: 100_000 }));

const interestingInts = [0, 1, -1, 2, 3, 7, 20, 100, 101, 1_000, 10_000, 2_147_483_647, -2_147_483_648, 1_700_000_000];
const intValue: fc.Arbitrary<Value> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -3, max: 25 }) },
  { weight: 3, arbitrary: fc.constantFrom(...interestingInts) },
  { weight: 1, arbitrary: fc.constantFrom('2147483648', '-2147483649', '9007199254740993', '1e400', '-0', '1.5', '0.1e-400').map((text) => new Raw(text)) },
);
const floatValue: fc.Arbitrary<Value> = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, 0.5, -1, 1e308, 5e-324, 4_294_967_295),
  fc.constantFrom('1e400', '-1e400').map((text) => new Raw(text)),
);

const OBESITY_QUESTION = 'Percent of adults aged 18 years and older who have obesity';
/** Strings that mean something to some part of jobgraph (queues, states, questions, expressions, paths). */
const meaningfulStrings = [
  '',
  ' ',
  'default',
  'admin',
  'Alabama',
  'National',
  OBESITY_QUESTION,
  'Percent of adults who engage in no leisure-time physical activity',
  '1+2*3',
  '(1',
  '2^2^2',
  '1/0',
  '__proto__',
  'constructor',
  "'; DROP TABLE users; --",
  '../../etc/passwd',
  '/restaurants',
  '%2e%2e/%2e%2e/',
  '\u0000',
  '\uD800',
  '😀',
  'ﬃ',
  'a\nb',
  'INVALID_CURSOR',
  'YXJyYXljb25uZWN0aW9uOjA=',
  '2021-01-01',
  '2007-12-03T10:15:30Z',
  'not-a-date',
  '9999-99-99',
];
// Never the marker of a variable placeholder (see `assemble`).
const smallString = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...meaningfulStrings) },
  { weight: 3, arbitrary: fc.string({ maxLength: 16 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 16 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 5_000 }) },
).map((text) => text.replaceAll(VAR_MARK, ''));

/** A long string (up to ~3 MB): a repeated unit, so it is cheap to build and to shrink. */
const hugeString = (maxLength = 3_000_000) =>
  fc
    .record({
      unit: fc.constantFrom('x', 'é', '1+', '(', 'ab cd ', '\\"', '😀', '-'),
      length: fc.oneof(fc.integer({ min: 1_000, max: maxLength }), fc.constantFrom(10_000, 100_000, 900_000, 1_100_000)),
    })
    .map(({ unit, length }) => unit.repeat(Math.max(1, Math.floor(Math.min(length, maxLength) / unit.length))));

/** Expressions for the calculator: valid ones, broken ones, and long chains that recurse. */
const expressionValue: fc.Arbitrary<Value> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('1+2', '2*(3+4)', '2^10', '-3%2', '1/0', '0^-1', '1e308*10', '(', '', '1 +', 'abc', '((1))', '--1', '.5') },
  {
    weight: 1,
    arbitrary: fc
      .record({ unit: fc.constantFrom('1+', '2*', '2^', '-', '(', '1-'), repeat: fc.integer({ min: 1, max: 100_000 }) })
      .map(({ unit, repeat }) => (unit === '(' ? `${'('.repeat(repeat)}1${')'.repeat(repeat)}` : `${unit.repeat(repeat)}1`)),
  },
);

/** Any value at all, for arguments and variables of the wrong type. */
const anyValue: fc.Arbitrary<Value> = fc.letrec<{ value: Value }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 4, arbitrary: fc.constantFrom<Value>(null, true, false, 0, -1, 1.5, '', 'x', new EnumName('TCP'), new EnumName('nope')) },
    { weight: 2, arbitrary: smallString },
    { weight: 2, arbitrary: intValue },
    { weight: 1, arbitrary: fc.array(tie('value'), { maxLength: 3 }) },
    { weight: 1, arbitrary: fc.dictionary(fc.constantFrom('a', 'name', 'question', '__proto__', 'input', 'file'), tie('value'), { maxKeys: 3 }) },
    { weight: 1, arbitrary: depthArb.map((depth) => nestedLists(depth)) },
  ),
})).value;

const valueCache = new Map<string, fc.Arbitrary<Value>>();

/** A value for an argument of `type`: mostly the right shape, sometimes a wrong one, sometimes an extreme one. */
function valueFor(type: GraphQLInputType, argName: string, depth = 0): fc.Arbitrary<Value> {
  const key = `${String(type)}|${argName}|${depth}`;
  const cached = valueCache.get(key);
  if (cached) return cached;
  let right: fc.Arbitrary<Value>;
  if (isNonNullType(type)) right = valueFor(type.ofType, argName, depth);
  else if (isListType(type)) {
    const item = valueFor(type.ofType, argName, depth + 1);
    // A single item where a list is expected is valid GraphQL (input coercion).
    right = fc.oneof(fc.array(item, { maxLength: 4 }), item);
  } else if (isEnumType(type)) {
    right = fc.oneof(fc.constantFrom(...type.getValues().map((value) => new EnumName(value.name))), fc.constantFrom(new EnumName('NOPE'), 'TCP'));
  } else if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields());
    right =
      depth > 3
        ? fc.constant({})
        : fc
            .tuple(
              ...fields.map((field) =>
                isNonNullType(field.type)
                  ? fc.oneof({ weight: 9, arbitrary: valueFor(field.type, field.name, depth + 1) }, { weight: 1, arbitrary: fc.constant(undefined) })
                  : fc.option(valueFor(field.type, field.name, depth + 1), { freq: 2, nil: undefined }),
              ),
              fc.option(fc.tuple(fc.constantFrom('unknownField', '__proto__', 'constructor'), anyValue), { freq: 8, nil: undefined }),
            )
            .map((values) => {
              const extra = values.pop() as [string, Value] | undefined;
              const object: Record<string, Value> = {};
              fields.forEach((field, i) => {
                if (values[i] !== undefined) object[field.name] = values[i] as Value;
              });
              if (extra) object[extra[0]] = extra[1];
              return object;
            });
  } else if (isScalarType(type)) {
    if (/expression|text/i.test(argName)) right = fc.oneof(expressionValue, smallString);
    else if (type.name === 'Int') right = intValue;
    else if (type.name === 'Float') right = floatValue;
    else if (type.name === 'Boolean') right = fc.boolean();
    else if (type.name === 'ID') right = fc.oneof(fc.constantFrom('1', '2', '0', '-1', '999999', 'abc', '1e3', ''), intValue);
    else if (type.name === 'JSON') right = anyValue;
    else right = smallString;
  } else right = anyValue;
  const arbitrary = fc.oneof({ weight: 8, arbitrary: right }, { weight: 1, arbitrary: anyValue });
  valueCache.set(key, arbitrary);
  return arbitrary;
}

// ---------------------------------------------------------------------------------------------------------------
// Documents

/** Where a variable goes in a document piece; `assemble` numbers them in order. */
const VAR_MARK = '\uE000';

/** Part of a document: its text, and the variables it uses (type and JSON value, in order of appearance). */
interface Piece {
  text: string;
  variables: { type: string; json: string }[];
}

const joinPieces = (pieces: Piece[], separator = ' '): Piece => ({
  text: pieces.map((piece) => piece.text).join(separator),
  variables: pieces.flatMap((piece) => piece.variables),
});
/** `{ a b c }` */
const braced = (pieces: Piece[]): Piece => {
  const joined = joinPieces(pieces);
  return { ...joined, text: `{ ${joined.text} }` };
};
const EMPTY: Piece = { text: '', variables: [] };

function argumentPiece(arg: GraphQLArgument): fc.Arbitrary<Piece | null> {
  const value = valueFor(arg.type, arg.name);
  const given = fc.oneof(
    { weight: 5, arbitrary: value.map((v): Piece => ({ text: `${arg.name}: ${toGraphQL(v)}`, variables: [] })) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(value, fc.constantFrom(String(arg.type), String(arg.type), 'String', 'Int!', '[Int]', 'JSON', 'Nope'))
        .map(([v, type]): Piece => ({ text: `${arg.name}: $${VAR_MARK}`, variables: [{ type, json: toJson(v) }] })),
    },
  );
  return isNonNullType(arg.type)
    ? fc.oneof({ weight: 12, arbitrary: given }, { weight: 1, arbitrary: fc.constant(null) })
    : fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: given });
}

function argumentsPiece(args: readonly GraphQLArgument[]): fc.Arbitrary<Piece> {
  if (!args.length) return fc.oneof({ weight: 12, arbitrary: fc.constant(EMPTY) }, { weight: 1, arbitrary: fc.constant<Piece>({ text: '(nope: 1)', variables: [] }) });
  return fc
    .tuple(...args.map(argumentPiece), fc.option(fc.constant({ text: 'unknownArg: 1', variables: [] }), { freq: 12, nil: null }))
    .map((pieces) => {
      const given = joinPieces(pieces.filter((piece): piece is Piece => piece !== null), ', ');
      return given.text ? { ...given, text: `(${given.text})` } : EMPTY;
    });
}

const selectionCache = new Map<string, fc.Arbitrary<Piece>>();

/** A selection set `{ … }` for `type`, `depth` levels deep at most. */
function selectionSet(type: GraphQLNamedType, depth: number): fc.Arbitrary<Piece> {
  const key = `${type.name}|${depth}`;
  const cached = selectionCache.get(key);
  if (cached) return cached;
  let arbitrary: fc.Arbitrary<Piece>;
  if (isUnionType(type)) {
    const members = [...type.getTypes()];
    arbitrary = fc
      .subarray(members, { minLength: 0, maxLength: Math.min(2, members.length) })
      .chain((chosen) => fc.tuple(...chosen.map((member) => selectionSet(member, depth).map((set) => ({ ...set, text: `... on ${member.name} ${set.text}` })))))
      .map((fragments) => braced([{ text: '__typename', variables: [] }, ...fragments]));
  } else if (isObjectType(type) || isInterfaceType(type)) {
    // At the last level only leaves (a connection has none: it gets `{ __typename }`).
    const fields = Object.values((type as GraphQLObjectType).getFields()).filter((field) => depth > 0 || isLeafType(getNamedType(field.type)));
    arbitrary = fields.length
      ? fc
          .subarray(fields, { minLength: 1, maxLength: Math.min(3, fields.length) })
          .chain((chosen) => fc.tuple(...chosen.map((field) => fieldPiece(field, depth - 1))))
          .map(braced)
      : fc.constant<Piece>({ text: '{ __typename }', variables: [] });
  } else arbitrary = fc.constant(EMPTY);
  selectionCache.set(key, arbitrary);
  return arbitrary;
}

function fieldPiece(field: GraphQLField<unknown, unknown>, depth: number): fc.Arbitrary<Piece> {
  const named = getNamedType(field.type);
  const selection =
    isLeafType(named) || depth < 0
      ? fc.oneof({ weight: 12, arbitrary: fc.constant(EMPTY) }, { weight: 1, arbitrary: fc.constant<Piece>({ text: '{ id }', variables: [] }) })
      : selectionSet(named, depth);
  return fc
    .tuple(fc.option(fc.constantFrom('a', 'b', 'x1'), { freq: 6, nil: null }), argumentsPiece(field.args), selection)
    .map(([alias, args, set]) => ({
      text: `${alias ? `${alias}: ` : ''}${field.name}${args.text} ${set.text}`.trim(),
      variables: [...args.variables, ...set.variables],
    }));
}

type OperationType = 'query' | 'mutation' | 'subscription';
const rootFields = (operation: OperationType) => {
  const root = operation === 'query' ? SCHEMA.getQueryType() : operation === 'mutation' ? SCHEMA.getMutationType() : SCHEMA.getSubscriptionType();
  return Object.values(root!.getFields()).filter((field) => !EXCLUDED_ROOT_FIELDS.has(field.name));
};

export interface GraphQLRequest {
  query: string;
  /** JSON text of the variables object, or null for none. */
  variables: string | null;
  operationName: string | null;
}

/** Numbers the variable placeholders and declares them on the operation. */
function assemble(operation: OperationType, name: string | null, body: Piece): GraphQLRequest {
  let index = 0;
  const text = body.text.replaceAll(VAR_MARK, () => `v${index++}`);
  const declarations = body.variables.map((variable, i) => `$v${i}: ${variable.type}`);
  const header = `${operation}${name ? ` ${name}` : ''}${declarations.length ? `(${declarations.join(', ')})` : ''}`;
  const variables = body.variables.length ? `{${body.variables.map((variable, i) => `"v${i}":${variable.json}`).join(',')}}` : null;
  return { query: `${header} ${text}`, variables, operationName: name };
}

/** A document built from the schema: real root fields and arguments, mostly right types, some wrong. */
const schemaDocument = (operation: OperationType): fc.Arbitrary<GraphQLRequest> =>
  fc
    .tuple(
      fc.subarray(rootFields(operation), { minLength: 1, maxLength: operation === 'subscription' ? 1 : 3 }),
      fc.option(fc.constantFrom('Op', 'Fuzz'), { freq: 3, nil: null }),
    )
    .chain(([fields, name]) => fc.tuple(...fields.map((field) => fieldPiece(field, 3))).map((pieces) => assemble(operation, name, braced(pieces))));

/** Text-level damage to a document: cut it, insert a stray token, or repeat a slice. */
const damaged = (request: fc.Arbitrary<GraphQLRequest>) =>
  fc
    .tuple(
      request,
      fc.constantFrom('cut', 'insert', 'repeat'),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.constantFrom('{', '}', '(', ')', '$', '...', '@', '"', '"""', '#', '\u0000', '!', '[', ':', '&', '\uFEFF', '🙂', 'query'),
    )
    .map(([request, how, at, token]) => {
      const position = Math.floor(at * request.query.length);
      const query =
        how === 'cut'
          ? request.query.slice(0, position)
          : how === 'insert'
            ? `${request.query.slice(0, position)}${token}${request.query.slice(position)}`
            : `${request.query.slice(0, position)}${request.query.slice(position).repeat(3)}`;
      return { ...request, query };
    });

const doc = (query: string, variables: string | null = null): GraphQLRequest => ({ query, variables, operationName: null });

/** Nesting and repetition pushed far: the parser, validation (fragments, same-name fields, directives), the evaluator. */
const structuralStress: fc.Arbitrary<GraphQLRequest> = fc.oneof(
  depthArb.map((n) => doc(`{ ${'me { '.repeat(n)}id${' }'.repeat(n)} }`)),
  depthArb.map((n) => doc(`{ evaluate(expressions: ${nestedLists(n, '"1"').text}) { value } }`)),
  depthArb.map((n) => doc(`mutation { createQueue(input: ${'{name: '.repeat(n)}"q"${'}'.repeat(n)}) { name } }`)),
  depthArb.map((n) => doc(`{ forecast(assets: [1], dateRange: ${'{from: '.repeat(n)}"x"${'}'.repeat(n)}) { seed } }`)),
  jsonDepthArb.map((n) => doc('query($v: [Int]) { forecast(assets: $v) { seed } }', `{"v":${nestedLists(n).text}}`)),
  jsonDepthArb.map((n) => doc('query($v: JSON) { __typename }', `{"v":${nestedObjects(n).text}}`)),
  depthArb.map((n) => doc(`mutation { completeJob(id: "1", result: ${nestedLists(n).text}) { id } }`)),
  // A fragment chain as deep as the budget allows (validation follows spreads recursively).
  fc.integer({ min: 2, max: 3_000 }).map((n) =>
    doc(`{ ...F0 } ${Array.from({ length: n }, (_, i) => `fragment F${i} on Query { ${i + 1 < n ? `...F${i + 1}` : '__typename'} }`).join(' ')}`),
  ),
  fc.constant(doc('{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }')),
  // Fragments that multiply: each spreads the next k times (k^n fields from n lines).
  fc.tuple(fc.integer({ min: 2, max: 40 }), fc.integer({ min: 2, max: 4 })).map(([n, k]) =>
    doc(`{ ...F0 } ${Array.from({ length: n }, (_, i) => `fragment F${i} on Query { ${`...F${i + 1} `.repeat(k)}}`).join(' ')} fragment F${n} on Query { __typename }`),
  ),
  // Many fields of the same name (validation compares every pair that could merge).
  fc.integer({ min: 1, max: 20_000 }).map((n) => doc(`{ ${'me { id } '.repeat(n)}}`)),
  fc.integer({ min: 1, max: 50_000 }).map((n) => doc(`{ __typename${' @include(if: true)'.repeat(n)} }`)),
  fc.integer({ min: 1, max: 20_000 }).map((n) => doc(`query(${Array.from({ length: n }, (_, i) => `$a${i}: Int`).join(' ')}) { __typename }`)),
  fc.integer({ min: 1, max: 5_000 }).map((n) => doc(`${'query { __typename } '.repeat(n)}`)),
  fc.integer({ min: 1, max: 10_000 }).map((n) => doc(`{ evaluate(expressions: [${'"1+1",'.repeat(n)}]) { value error } }`)),
  // A long left-associative chain, next to a line that must still be answered.
  fc.integer({ min: 1, max: 100_000 }).map((n) => doc(`{ evaluate(expressions: ["${'1+'.repeat(n)}1", "2*3"]) { value error } }`)),
  expressionValue.map((expression) => doc('query($e: [String!]!) { evaluate(expressions: $e) { value error } }', toJson({ e: [expression, '1+1'] }))),
);

/** Long strings where each kind of argument is read (bounded: these are the expensive requests of a run). */
const hugeStringStress: fc.Arbitrary<GraphQLRequest> = fc.oneof(
  hugeString(900_000).map((text) => doc('query($q: String!) { analytics { globalMean(question: $q) } }', toJson({ q: text }))),
  hugeString(900_000).map((text) => doc(`{ analytics { stateMean(question: "${OBESITY_QUESTION}", state: ${JSON.stringify(text)}) { value } } }`)),
  hugeString().map((text) => doc('mutation($t: String!) { submitCalcJob(input: { text: $t }) { id status } }', toJson({ t: text }))),
  hugeString(900_000).map((text) => doc(`{ relay(path: ${JSON.stringify(text)}) { status } }`)),
  hugeString(900_000).map((text) => doc(`mutation { login(username: ${JSON.stringify(text)}, password: "x") { token } }`)),
  hugeString(900_000).map((text) => doc(`{ __typename } # ${text}`)),
  hugeString(900_000).map((text) => doc(`{ ${text.replace(/[^_A-Za-z]/g, 'a')} }`)),
);

/** Arguments out of range, cursors that aren't, subscriptions that can't be served. */
const oddDocument: fc.Arbitrary<GraphQLRequest> = fc.constantFrom(
  doc('{ users(first: -1) { totalCount } }'),
  doc('{ users(after: "nope") { totalCount } }'),
  doc('{ jobs(first: 1000000) { edges { cursor } } }'),
  doc('{ jobs(before: "x", last: -5) { edges { cursor } } }'),
  doc('{ quotes(protocol: SCTP) { quotes } }'),
  doc('{ job(id: "99999999999999999999999") { id } }'),
  doc('subscription { jobUpdated(id: "nope") { id } }'),
  doc('subscription { quoteStream(intervalMs: 1) { text } }'),
  doc('subscription { loginEvents { username } }'),
  doc('subscription { jobCompleted { id } } subscription Two { loginEvents { username } }'),
  doc('subscription S { quoteStream { text } quoteStream2: quoteStream { text } }'),
  doc('{ __schema { types { name fields { name type { name ofType { name ofType { name } } } } } } }'),
  doc('query { __type(name: "Query") { name } }'),
);

/** Hand-made shapes that stress one mechanism each (the parser, validation, the evaluator, the suggestions). */
const stressDocument = fc.oneof(
  { weight: 6, arbitrary: structuralStress },
  { weight: 2, arbitrary: hugeStringStress },
  { weight: 2, arbitrary: oddDocument },
);

/** A GraphQL request of the given operation types: schema-derived (sometimes damaged) or a stress shape. */
const graphqlRequest = (operations: OperationType[] = ['query', 'mutation', 'subscription']) => {
  const derived = fc.oneof(...operations.map((operation) => schemaDocument(operation)));
  return fc.oneof({ weight: 10, arbitrary: derived }, { weight: 3, arbitrary: damaged(derived) }, { weight: 2, arbitrary: stressDocument });
};

// ---------------------------------------------------------------------------------------------------------------
// HTTP

const credentials: fc.Arbitrary<Credentials> = fc.record({
  who: fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom<Who>('admin', 'user') },
    { weight: 1, arbitrary: fc.constant<Who>('anonymous') },
    { weight: 1, arbitrary: fc.constant<Who>('revoked') },
  ),
  form: fc.oneof(
    { weight: 8, arbitrary: fc.constant<AuthForm>('bearer') },
    { weight: 2, arbitrary: fc.constantFrom<AuthForm>('lowercase', 'bare', 'trailing-garbage', 'garbage-token', 'huge', 'basic', 'empty', 'bearer-only') },
  ),
});

const jsonContentType = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/json') },
  {
    weight: 1,
    arbitrary: fc.constantFrom('application/json; charset=utf-8', 'APPLICATION/JSON', 'application/graphql-response+json', 'application/json; charset=latin1'),
  },
);
const oddContentType = fc.constantFrom(
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'multipart/form-data; boundary=',
  'multipart/mixed',
  'application/graphql',
  'application/graphql-response+json',
  'application/octet-stream',
  'application/json; boundary=x',
  'text/event-stream',
  '',
  ';;;',
);
const accept = fc.oneof(
  { weight: 6, arbitrary: fc.constant(null) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('application/json', 'application/graphql-response+json', 'text/event-stream', 'multipart/mixed', '*/*', 'text/html', 'application/xml', ''),
  },
);
const extraHeaders = fc.oneof(
  { weight: 10, arbitrary: fc.constant({}) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Record<string, string>>(
      { 'x-request-id': 'x'.repeat(5_000) },
      { 'x-junk': 'y'.repeat(60_000) },
      { 'graphql-preflight': '1', 'x-graphql-yoga-csrf': '1' },
      { 'content-encoding': 'gzip' },
      { 'x-forwarded-for': '1.2.3.4, 5.6.7.8' },
      { connection: 'upgrade', upgrade: 'websocket' },
      { cookie: 'a=b'.repeat(1_000) },
    ),
  },
);

const requestBody = (request: GraphQLRequest, extensions: string | null) =>
  `{"query":${JSON.stringify(request.query)}${request.variables !== null ? `,"variables":${request.variables}` : ''}${
    request.operationName !== null ? `,"operationName":${JSON.stringify(request.operationName)}` : ''
  }${extensions !== null ? `,"extensions":${extensions}` : ''}}`;

const extensionsJson = fc.option(
  fc.constantFrom(
    '{}',
    'null',
    '[]',
    '"x"',
    '{"headers":{"authorization":"Bearer nope"}}',
    '{"persistedQuery":{"version":1,"sha256Hash":"abc"}}',
    nestedObjects(5_000).text,
  ),
  { freq: 6, nil: null },
);

/** POST /graphql with a JSON body of a generated document. */
const graphqlPost: fc.Arbitrary<HttpOperation> = fc
  .record({ request: graphqlRequest(), extensions: extensionsJson, credentials, contentType: jsonContentType, accept, headers: extraHeaders, chunked: fc.boolean() })
  .map(({ request, extensions, credentials, contentType, accept, headers, chunked }) => ({
    kind: 'http',
    family: 'graphql-post',
    method: 'POST',
    target: '/graphql',
    credentials,
    headers: { 'content-type': contentType, ...(accept !== null ? { accept } : {}), ...headers },
    body: requestBody(request, extensions),
    chunked,
  }));

/** A subscription (or any operation) asked for as Server-Sent Events. */
const graphqlSse: fc.Arbitrary<HttpOperation> = fc
  .record({ request: graphqlRequest(['subscription', 'query']), credentials })
  .map(({ request, credentials }) => ({
    kind: 'http',
    family: 'graphql-sse',
    method: 'POST',
    target: '/graphql',
    credentials,
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: requestBody(request, null),
    chunked: false,
  }));

/** Query-string values: encoded properly, or broken (bad percent escapes, repeated keys, malformed JSON). */
const encode = (text: string) => encodeURIComponent(text);
const variablesText = fc.oneof(
  fc.constantFrom('null', '[]', '123', '"x"', '{', '{"a":', '{"a":1}', 'undefined', '%', '%zz', '{"v":[1,2]}', '{"__proto__":{"x":1}}'),
  depthArb.map((n) => nestedLists(Math.min(n, 5_000)).text),
);
const graphqlGet: fc.Arbitrary<HttpOperation> = fc
  .record({
    request: graphqlRequest(['query', 'mutation']),
    variables: fc.option(variablesText, { freq: 2, nil: null }),
    raw: fc.boolean(),
    extra: fc.constantFrom('', '&query=%7B__typename%7D', '&operationName=Nope', '&extensions=%7B', '&&&', '&query', '&variables=%7B%7D&variables=null', '&%'),
    preflight: fc.boolean(),
    credentials,
    accept,
  })
  .filter(({ request }) => request.query.length < 20_000)
  .map(({ request, variables, raw, extra, preflight, credentials, accept }) => {
    const vars = variables ?? request.variables;
    const query = raw ? request.query.replace(/[ #&]/g, (c) => encode(c)) : encode(request.query);
    return {
      kind: 'http',
      family: 'graphql-get',
      method: 'GET',
      target: `/graphql?query=${query}${vars !== null ? `&variables=${raw ? vars : encode(vars)}` : ''}${extra}`,
      credentials,
      headers: { ...(preflight ? { 'graphql-preflight': '1' } : {}), ...(accept !== null ? { accept } : {}) },
      body: null,
      chunked: false,
    };
  });

/** Bodies that are not a GraphQL request: broken JSON, other JSON values, deep nesting, odd encodings. */
const oddBody = fc.oneof(
  {
    weight: 20,
    arbitrary: fc.constantFrom(
      'null',
      '[]',
      '"x"',
      '123',
      'true',
      '{}',
      '',
      ' ',
      '{"query":null}',
      '{"query":123}',
      '{"query":["{ me { id } }"]}',
      '[{"query":"{ __typename }"},{"query":"{ me { id } }"}]',
      '{"query":"{ __typename }","variables":"x"}',
      '{"query":"{ __typename }","variables":[]}',
      '{"query":"{ __typename }","variables":null,"operationName":5}',
      '{"query":"{ __typename }","extensions":"x"}',
      '{"query":"{ __typename }","query":"{ me { id } }"}',
      '{"query":"query($v: Int) { __typename }","variables":{"v":"1","__proto__":{"polluted":1}}}',
      '{"query":"{ __typename }"',
      '{"query":"{ __typename }"}garbage',
      '{"query":"\\ud800"}',
      '\uFEFF{"query":"{ __typename }"}',
      '{"query":"{ __typename }"}\u0000',
      'query { __typename }',
      'query=%7B__typename%7D',
      '{"query": "{ jobs(first: -1) { edges { cursor } } }"}',
    ),
  },
  { weight: 3, arbitrary: jsonDepthArb.map((n) => nestedLists(n).text) },
  { weight: 3, arbitrary: jsonDepthArb.map((n) => nestedObjects(n, 'query').text) },
  { weight: 3, arbitrary: jsonDepthArb.map((n) => `{"query":"{ __typename }","variables":${nestedObjects(n).text}}`) },
  { weight: 1, arbitrary: hugeString().map((text) => `{"query":"{ __typename }","variables":{"v":${JSON.stringify(text)}}}`) },
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
);

const rawPost: fc.Arbitrary<HttpOperation> = fc
  .record({ body: oddBody, contentType: fc.oneof(jsonContentType, oddContentType), preflight: fc.boolean(), credentials, accept, chunked: fc.boolean() })
  .map(({ body, contentType, preflight, credentials, accept, chunked }) => ({
    kind: 'http',
    family: 'graphql-raw-body',
    method: 'POST',
    target: '/graphql',
    credentials,
    headers: { ...(contentType ? { 'content-type': contentType } : {}), ...(preflight ? { 'graphql-preflight': '1' } : {}), ...(accept !== null ? { accept } : {}) },
    body,
    chunked,
  }));

/** GraphQL multipart requests (file uploads): well-formed, broken, or without a boundary. */
const multipart: fc.Arbitrary<HttpOperation> = fc
  .record({
    operations: fc.oneof(
      fc.constant('{"query":"mutation($f: File!) { submitCalcJob(input: { file: $f }) { id } }","variables":{"f":null}}'),
      fc.constant('{"query":"mutation($f: File!) { submitCalcJob(input: { file: $f, text: \\"1\\" }) { id } }","variables":{"f":null}}'),
      fc.constant('{"query":"{ __typename }"}'),
      oddBody.filter((body) => body.length < 100_000),
    ),
    map: fc.constantFrom('{"0":["variables.f"]}', '{"0":["variables.nope.deep"]}', '{"0":["__proto__.x"]}', '{}', '[]', 'null', '{"0":"variables.f"}', '{'),
    file: fc.oneof(
      { weight: 5, arbitrary: fc.constantFrom('1+1\n2*3\n', '', '(\n1/0\n') },
      { weight: 4, arbitrary: expressionValue.map(String) },
      { weight: 1, arbitrary: hugeString(3_000_000) },
    ),
    boundary: fc.constantFrom('fuzzboundary', '', null, 'a'.repeat(100)),
    credentials,
  })
  .map(({ operations, map, file, boundary, credentials }) => {
    const separator = boundary || 'fuzzboundary';
    const part = (name: string, content: string, filename?: string) =>
      `--${separator}\r\nContent-Disposition: form-data; name="${name}"${filename ? `; filename="${filename}"` : ''}\r\n${filename ? 'Content-Type: text/plain\r\n' : ''}\r\n${content}\r\n`;
    return {
      kind: 'http',
      family: 'multipart',
      method: 'POST',
      target: '/graphql',
      credentials,
      headers: { 'content-type': boundary === null ? 'multipart/form-data' : `multipart/form-data; boundary=${boundary}`, 'graphql-preflight': '1' },
      body: `${part('operations', operations)}${part('map', map)}${part('0', file, 'exprs.txt')}--${separator}--\r\n`,
      chunked: false,
    };
  });

const COMPAT_ROUTES = ['states_mean', 'state_mean', 'best5', 'worst5', 'global_mean', 'diff_from_mean', 'state_diff_from_mean', 'mean_by_category', 'state_mean_by_category'];

/** The compatibility layer's body, `{"question": …, "state": …}`, with values of any type. */
const compatQuestion = fc
  .record({
    question: fc.oneof(fc.constant<Value>(OBESITY_QUESTION), anyValue),
    state: fc.option(fc.oneof(fc.constant<Value>('Alabama'), anyValue), { nil: undefined }),
  })
  .map(({ question, state }) => toJson(state === undefined ? { question } : { question, state }));

/** The REST compatibility layer under /api/ (src/analytics/compat.ts). */
const compat: fc.Arbitrary<HttpOperation> = fc
  .record({
    method: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('POST', 'GET') }, { weight: 1, arbitrary: fc.constantFrom('PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD') }),
    path: fc.oneof(
      fc.constantFrom(...COMPAT_ROUTES).map((route) => `/api/${route}`),
      fc.constantFrom('1', '0', '-1', '1e3', 'abc', '99999999999999999999', '', '1/2', '%00', '..').map((id) => `/api/get_results/${id}`),
      fc.constantFrom('/api/jobs', '/api/num_jobs', '/api/graceful_shutdown', '/api/', '/api', '/api/jobs/1', '/api//', '/api/%2e%2e/graphql', '/api/states_mean/1'),
    ),
    body: fc.oneof(
      { weight: 10, arbitrary: compatQuestion },
      { weight: 5, arbitrary: oddBody },
      { weight: 3, arbitrary: hugeString().map((text) => `{"question":${JSON.stringify(text)}}`) },
    ),
    contentType: fc.oneof(jsonContentType, oddContentType),
    credentials,
    chunked: fc.boolean(),
  })
  // The admin's graceful_shutdown would stop the server under test.
  .filter(({ path, credentials }) => !(path === '/api/graceful_shutdown' && credentials.who === 'admin'))
  .map(({ method, path, body, contentType, credentials, chunked }) => ({
    kind: 'http',
    family: 'compat',
    method,
    target: path,
    credentials,
    headers: contentType ? { 'content-type': contentType } : ({} as Record<string, string>),
    body: method === 'GET' || method === 'HEAD' ? null : body,
    chunked: chunked && method !== 'GET' && method !== 'HEAD',
  }));

/** Paths and methods outside the API. */
const oddRoute: fc.Arbitrary<HttpOperation> = fc
  .record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'),
    target: fc.constantFrom('/', '/graphql/', '/GRAPHQL', '/graphql?', '/graphql/../graphql', '/%', '/%2e%2e%2f', '/health', '/ready', '/graphiql', `/${'a'.repeat(10_000)}`, '/graphql#x', '/api%2fjobs'),
    credentials,
  })
  .map(({ method, target, credentials }) => ({
    kind: 'http',
    family: 'odd-route',
    method,
    target,
    credentials,
    headers: method === 'GET' ? ({} as Record<string, string>) : { 'content-type': 'application/json' },
    body: method === 'GET' ? null : '{"query":"{ __typename }"}',
    chunked: false,
  }));

// ---------------------------------------------------------------------------------------------------------------
// WebSocket (graphql-transport-ws)

const connectionInit = fc.oneof(
  { weight: 6, arbitrary: fc.constant('{"type":"connection_init"}') },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.constantFrom('authorization', 'Authorization', 'AUTHORIZATION', 'token'), fc.constantFrom('ADMIN', 'USER', 'REVOKED', 'garbage'), fc.constantFrom('Bearer ', '', 'bearer ', 'Basic '))
      .map(([key, who, prefix]) => `{"type":"connection_init","payload":{${JSON.stringify(key)}:"${prefix}{{${who}}}"}}`),
  },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.constantFrom('null', '[]', '"x"', '123', '{"authorization":123}', '{"authorization":null}', '{"authorization":["Bearer x"]}', '{"__proto__":{"authorization":"Bearer x"}}'),
      jsonDepthArb.map((n) => nestedObjects(n, 'authorization').text),
    ).map((payload) => `{"type":"connection_init","payload":${payload}}`),
  },
);

const subscribeFrame = fc
  .record({
    id: fc.oneof({ weight: 8, arbitrary: fc.constantFrom('1', '2', 'a') }, { weight: 1, arbitrary: fc.constantFrom('', 'x'.repeat(10_000), '__proto__') }),
    idJson: fc.option(fc.constantFrom('1', 'null', '{}', '["1"]'), { freq: 10, nil: null }),
    request: graphqlRequest(['subscription', 'subscription', 'query', 'mutation']),
    variables: fc.option(fc.oneof(variablesText, jsonDepthArb.map((n) => `{"v":${nestedLists(n).text}}`), jsonDepthArb.map((n) => nestedObjects(n).text)), { freq: 4, nil: null }),
    extensions: extensionsJson,
  })
  .map(
    ({ id, idJson, request, variables, extensions }) =>
      `{"id":${idJson ?? JSON.stringify(id)},"type":"subscribe","payload":${requestBody({ ...request, variables: variables ?? request.variables }, extensions)}}`,
  );

const otherFrame = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.constantFrom(
      '{"type":"ping"}',
      '{"type":"pong","payload":{"x":1}}',
      '{"type":"ping","payload":"x"}',
      '{"type":"complete","id":"1"}',
      '{"type":"complete","id":"never-started"}',
      '{"type":"complete"}',
      '{"type":"start","id":"1","payload":{"query":"{ __typename }"}}',
      '{"type":"connection_terminate"}',
      '{"type":"next","id":"1","payload":{"data":{}}}',
      '{"type":"subscribe","id":"1"}',
      '{"type":"subscribe","id":"1","payload":null}',
      '{"type":"subscribe","id":"1","payload":{"query":123}}',
      '{"type":123}',
      '{"type":"__proto__"}',
      '{}',
      'null',
      '[]',
      '"x"',
      '',
      '{',
      '{"type":"subscribe"',
      'not json at all',
    ),
  },
  { weight: 2, arbitrary: jsonDepthArb.map((n) => nestedLists(n).text) },
  { weight: 2, arbitrary: jsonDepthArb.map((n) => `{"type":"ping","payload":${nestedObjects(n).text}}`) },
  { weight: 1, arbitrary: hugeString(2_000_000).map((text) => `{"type":"ping","payload":{"x":${JSON.stringify(text)}}}`) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 100 }) },
);

const binaryFrame = fc.uint8Array({ maxLength: 64 }).map((bytes): WsFrame => ({ binary: [...bytes] }));

const wsSession: fc.Arbitrary<WsOperation> = fc
  .record({
    protocol: fc.oneof({ weight: 12, arbitrary: fc.constant('graphql-transport-ws') }, { weight: 1, arbitrary: fc.constantFrom(null, 'graphql-ws', 'nope') }),
    credentials,
    init: fc.oneof({ weight: 6, arbitrary: connectionInit.map((text) => [{ text }, { awaitAck: true as const }]) }, { weight: 1, arbitrary: fc.constant([]) }),
    frames: fc.array(
      fc.oneof(
        { weight: 6, arbitrary: subscribeFrame.map((text): WsFrame => ({ text })) },
        { weight: 3, arbitrary: otherFrame.map((text): WsFrame => ({ text })) },
        { weight: 1, arbitrary: connectionInit.map((text): WsFrame => ({ text })) },
        { weight: 1, arbitrary: binaryFrame },
      ),
      { minLength: 1, maxLength: 4 },
    ),
  })
  .map(({ protocol, credentials, init, frames }) => ({ kind: 'ws', family: 'websocket', protocol, credentials, frames: [...init, ...frames] }));

/** One operation of any kind, weighted towards the GraphQL endpoint and WebSocket sessions. */
export const fuzzOperation: fc.Arbitrary<FuzzOperation> = fc.oneof(
  { weight: 30, arbitrary: graphqlPost },
  { weight: 8, arbitrary: graphqlGet },
  { weight: 12, arbitrary: rawPost },
  { weight: 4, arbitrary: multipart },
  { weight: 5, arbitrary: graphqlSse },
  { weight: 10, arbitrary: compat },
  { weight: 3, arbitrary: oddRoute },
  { weight: 15, arbitrary: wsSession },
);

/** Writes runs of a repeated unit (≥ 40 characters) as «unit»×count, so 20,000 levels of nesting read as one. */
function compressRuns(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    let best: { unit: string; count: number } | null = null;
    for (let length = 1; length <= 16 && i + length <= text.length; length++) {
      const unit = text.slice(i, i + length);
      let count = 1;
      while (text.startsWith(unit, i + count * length)) count++;
      if (count * length >= 40 && (!best || count * length > best.count * best.unit.length)) best = { unit, count };
    }
    if (best) {
      out += `«${best.unit}»×${best.count}`;
      i += best.count * best.unit.length;
    } else out += text[i++];
  }
  return out;
}

/** A short description for failure reports: repeats compressed and long strings cut, so a 3 MB input prints in a line. */
export function describeOperation(operation: FuzzOperation): string {
  const cut = (text: string) => {
    const short = text.length > 60 ? compressRuns(text) : text;
    return short.length > 600 ? `${short.slice(0, 300)}…[${short.length} chars]…${short.slice(-150)}` : short;
  };
  return JSON.stringify(operation, (_key, value) => (typeof value === 'string' ? cut(value) : value));
}
