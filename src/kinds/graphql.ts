// The GraphQL face of the kind files: each kind's input and result types generated from its zod schemas (the field
// descriptions from `.describe()`), its member of JobSubmission, its Job.result type and its JobKind value; and the
// `jobKinds` catalog (the dashboard builds its submit forms from the input's JSON Schema).
import type { InputObjectRef, ObjectRef } from '@pothos/core';
import { z } from 'zod';
import { builder } from '../graphql/builder';
import { jobOptions, registerJobKindValue, registerJobResult, registerJobSubmission } from '../jobs/graphql';
import type { JobKindName } from '../jobs/model';
import { kindConstantOf, kindTypePrefixOf } from './define';
import { type KindFile, KindFileError } from './load';

const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;
const INT32 = 2 ** 31;

/** The common job options' field names, read from the one place that declares them (jobOptions), so new ones count. */
function jobOptionNames(): Set<string> {
  const anyField = new Proxy({}, { get: () => () => null });
  return new Set(Object.keys(jobOptions(anyField)));
}

interface Unwrapped {
  schema: z.ZodType;
  optional: boolean;
  description: string | undefined;
}

/** Optional, nullable and defaulted fields are not required; the description may sit on any layer. */
function unwrap(schema: z.ZodType): Unwrapped {
  let optional = false;
  let description = schema.description;
  let inner: z.ZodType = schema;
  for (;;) {
    const type = inner.def.type;
    if (type !== 'optional' && type !== 'nullable' && type !== 'default' && type !== 'prefault' && type !== 'nonoptional' && type !== 'readonly') break;
    if (type !== 'nonoptional' && type !== 'readonly') optional = true;
    inner = (inner.def as unknown as { innerType: z.ZodType }).innerType;
    description ??= inner.description;
  }
  return { schema: inner, optional, description };
}

const pascal = (name: string) => name[0]!.toUpperCase() + name.slice(1);

type TypeParam = string | InputObjectRef<any, any> | ObjectRef<any, any> | ReturnType<typeof builder.enumType>;

/** Generates the GraphQL types of one kind's schemas; a schema GraphQL cannot express is a KindFileError naming the field. */
class TypeMaker {
  private readonly enums = new Map<z.ZodType, ReturnType<typeof builder.enumType>>();

  constructor(
    private readonly shownAs: string,
    private readonly prefix: string,
  ) {}

  refuse(path: string, problem: string): never {
    throw new KindFileError(this.shownAs, `${path}: ${problem}`);
  }

  /** The GraphQL type of a (non-wrapped) zod type; `side` names the generated types (`…Input` or `…Result…`). */
  typeOf(schema: z.ZodType, path: string, side: 'input' | 'result'): { type: TypeParam; list: boolean; itemsOptional: boolean } {
    const def = schema.def.type;
    if (def === 'array') {
      const item = unwrap((schema as z.ZodArray).element as z.ZodType);
      const inner = this.typeOf(item.schema, `${path}[]`, side);
      if (inner.list) this.refuse(path, 'a list of lists has no GraphQL input or result form here');
      return { type: inner.type, list: true, itemsOptional: item.optional };
    }
    return { type: this.scalarOf(schema, path, side), list: false, itemsOptional: false };
  }

  private scalarOf(schema: z.ZodType, path: string, side: 'input' | 'result'): TypeParam {
    switch (schema.def.type) {
      case 'string':
        return 'String';
      case 'boolean':
        return 'Boolean';
      case 'number': {
        const number = schema as z.ZodNumber;
        // GraphQL's Int is 32 bits: an integer schema bounded within them is an Int, a wider one a Float.
        const int32 = number.isInt && (number.minValue ?? -Infinity) >= -INT32 && (number.maxValue ?? Infinity) < INT32;
        return int32 ? 'Int' : 'Float';
      }
      case 'enum':
        return this.enumOf(schema as z.ZodEnum, path);
      case 'object':
        return side === 'input' ? this.inputOf(schema as z.ZodObject, `${this.prefix}${this.pathName(path)}Input`, path) : this.resultOf(schema as z.ZodObject, `${this.prefix}Result${this.pathName(path)}`, path);
      default:
        return this.refuse(path, `a zod ${schema.def.type} has no GraphQL form (use string, number, boolean, enum, array or object)`);
    }
  }

  private pathName(path: string): string {
    return path.split('.').slice(1).map((part) => pascal(part.replace('[]', ''))).join('');
  }

  private enumOf(schema: z.ZodEnum, path: string) {
    const known = this.enums.get(schema);
    if (known) return known;
    const values = (schema.options as unknown[]).map(String);
    const bad = values.find((value) => !GRAPHQL_NAME.test(value));
    if (bad !== undefined) this.refuse(path, `enum value ${JSON.stringify(bad)} is not a GraphQL name`);
    const made = builder.enumType(`${this.prefix}${this.pathName(path)}`, { description: schema.description, values });
    this.enums.set(schema, made);
    return made;
  }

  checkFieldName(path: string, name: string): void {
    if (!GRAPHQL_NAME.test(name) || name.startsWith('__')) this.refuse(path, `field name ${JSON.stringify(name)} is not a GraphQL name`);
  }

  inputOf(schema: z.ZodObject, name: string, path: string, extra?: (t: any) => Record<string, any>): InputObjectRef<any, any> {
    const fields = Object.entries(schema.shape).map(([field, value]) => {
      this.checkFieldName(path, field);
      const inner = unwrap(value as z.ZodType);
      return { field, inner, graphql: this.typeOf(inner.schema, `${path}.${field}`, 'input') };
    });
    return builder.inputType(name, {
      description: schema.description,
      fields: (t) => ({
        ...Object.fromEntries(
          fields.map(({ field, inner, graphql }) => [
            field,
            t.field({
              type: (graphql.list ? [graphql.type] : graphql.type) as any,
              required: graphql.list ? { list: !inner.optional, items: !graphql.itemsOptional } : !inner.optional,
              description: inner.description,
            }),
          ]),
        ),
        ...(extra ? extra(t) : {}),
      }),
    });
  }

  resultOf(schema: z.ZodObject, name: string, path: string): ObjectRef<any, any> {
    const fields = Object.entries(schema.shape).map(([field, value]) => {
      this.checkFieldName(path, field);
      const inner = unwrap(value as z.ZodType);
      return { field, inner, graphql: this.typeOf(inner.schema, `${path}.${field}`, 'result') };
    });
    if (!fields.length) this.refuse(path, 'a result object needs at least one field');
    return builder.objectRef<Record<string, unknown>>(name).implement({
      description: schema.description,
      // Reached only through Job.result, which carries the job's own rule.
      authScopes: { public: true },
      fields: (t) =>
        Object.fromEntries(
          fields.map(({ field, inner, graphql }) => [
            field,
            t.expose(field as never, {
              type: (graphql.list ? [graphql.type] : graphql.type) as any,
              nullable: graphql.list ? { list: inner.optional, items: graphql.itemsOptional } : inner.optional,
              description: inner.description,
            } as never),
          ]),
        ),
    });
  }
}

/** GraphQL sends null for a field set to null; a zod `.optional()` field means "left out". */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== null).map(([key, field]) => [key, withoutNulls(field)]));
}

let registered: readonly KindFile[] = [];

/** Adds each kind file's types to the schema being built (once per process: see buildSchema). */
export function registerKindFiles(files: readonly KindFile[]): void {
  const options = jobOptionNames();
  for (const { shownAs, kind } of files) {
    const prefix = kindTypePrefixOf(kind.name);
    const constant = kindConstantOf(kind.name) as JobKindName;
    const maker = new TypeMaker(shownAs, prefix);
    const clash = Object.keys(kind.input.shape).find((field) => options.has(field));
    if (clash) maker.refuse('input', `field "${clash}" is one of the job options every kind takes (${[...options].join(', ')})`);
    const fields = Object.keys(kind.input.shape);
    const inputType = maker.inputOf(kind.input, `${prefix}JobInput`, 'input', jobOptions);
    const resultType = maker.resultOf(kind.result, `${prefix}Result`, 'result');
    inputType.updateConfig((config) => ({ ...config, description: config.description ?? `${kind.description} With the job options every kind takes.` }));
    resultType.updateConfig((config) => ({ ...config, description: config.description ?? `The result of ${kind.name}: ${kind.description}` }));
    registerJobKindValue(constant, kind.description);
    registerJobResult(constant, resultType);
    registerJobSubmission({
      field: kind.name,
      type: inputType,
      description: `A ${kind.name} job (a kind file's kind): ${kind.description}`,
      // The kind's own fields (the options are the service's); its schema checks them in the service.
      toRequest: (input: Record<string, unknown>) => ({ kind: constant, input: withoutNulls(Object.fromEntries(fields.filter((field) => field in input).map((field) => [field, input[field]]))) }),
    });
  }
  registered = files;
}

interface JobKindInfo {
  kind: string;
  name: string;
  description: string;
  inputSchema: unknown;
}

const JobKindInfoType = builder.objectRef<JobKindInfo>('JobKindInfo').implement({
  description: 'A job kind from a kind file (JOB_KINDS_DIR): what to submit and how.',
  authScopes: { loggedIn: true },
  fields: (t) => ({
    kind: t.exposeString('kind', { description: 'Its JobKind value (`WORD_COUNT`), as `Job.kind`, `jobs(kind:)` and `jobCompleted(kind:)` take it.' }),
    name: t.exposeString('name', { description: 'Its name (`wordCount`): its member of JobSubmission in submitJobs.' }),
    description: t.exposeString('description', { description: 'What it computes.' }),
    inputSchema: t.expose('inputSchema', { type: 'JSON', description: 'Its input as a JSON Schema (the job options not included).' }),
  }),
});

builder.queryFields((t) => ({
  jobKinds: t.withAuth({ loggedIn: true }).field({
    type: [JobKindInfoType],
    description: 'The job kinds this server runs from kind files (JOB_KINDS_DIR), in name order; the built-in kinds have their own submit mutations.',
    resolve: () =>
      registered.map(({ kind }) => ({
        kind: kindConstantOf(kind.name),
        name: kind.name,
        description: kind.description,
        inputSchema: z.toJSONSchema(kind.input, { io: 'input', unrepresentable: 'any' }),
      })),
  }),
}));
