// The schema documents itself: GraphiQL's docs pane and any client's introspection explain every type, field,
// argument and enum value. A new one without a description fails here, named.
import { expect, test } from 'bun:test';
import { isEnumType, isInputObjectType, isInterfaceType, isObjectType, isScalarType, isSpecifiedScalarType, isUnionType } from 'graphql';
import { buildSchema } from '../src/schema';

const ROOT_TYPES = new Set(['Query', 'Mutation', 'Subscription']);

/** Every schema element without a description, as `Type`, `Type.field`, `Type.field(arg)` or `Enum.VALUE`. */
function undescribed(): string[] {
  const missing: string[] = [];
  for (const type of Object.values(buildSchema().getTypeMap())) {
    if (type.name.startsWith('__') || (isScalarType(type) && isSpecifiedScalarType(type))) continue;
    if (!ROOT_TYPES.has(type.name) && !type.description?.trim()) missing.push(type.name);
    if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) {
        if (!field.description?.trim()) missing.push(`${type.name}.${field.name}`);
        for (const arg of 'args' in field ? field.args : []) if (!arg.description?.trim()) missing.push(`${type.name}.${field.name}(${arg.name})`);
      }
    }
    if (isEnumType(type)) for (const value of type.getValues()) if (!value.description?.trim()) missing.push(`${type.name}.${value.name}`);
    if (isUnionType(type) && !type.description?.trim()) missing.push(type.name);
  }
  return missing;
}

test('every type, field, argument and enum value has a description', () => {
  expect(undescribed()).toEqual([]);
});

test('descriptions say something beyond the name', () => {
  const schema = buildSchema();
  const echoes: string[] = [];
  const words = (name: string) => name.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/_/g, ' ').toLowerCase();
  for (const root of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
    for (const field of Object.values(root!.getFields())) {
      const description = field.description?.toLowerCase().replace(/[.`]/g, '').trim() ?? '';
      if (description === words(field.name) || description.split(/\s+/).length < 4) echoes.push(`${root!.name}.${field.name}: ${field.description}`);
    }
  }
  expect(echoes).toEqual([]);
});
