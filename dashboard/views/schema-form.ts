// A form generated from a JSON Schema (a kind file's input, from `jobKinds { inputSchema }`): one control per field,
// and the value it gives back in the schema's shape. Strings, numbers, booleans, enums, lists and nested objects.
import { html } from '../ui';

export interface JsonSchema {
  type?: string | string[];
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  maxLength?: number;
}

const typeOf = (schema: JsonSchema) => (Array.isArray(schema.type) ? schema.type.find((type) => type !== 'null') : schema.type);

export function SchemaFields({ schema, prefix = '' }: { schema: JsonSchema; prefix?: string }) {
  return Object.entries(schema.properties ?? {}).map(([name, field]) => {
    const path = `${prefix}${name}`;
    const required = (schema.required ?? []).includes(name);
    const label = `${name}${required ? '' : ' (optional)'}`;
    const title = field.description ?? '';
    const type = typeOf(field);
    if (field.enum) {
      return html`<label title=${title}>${label} <select name=${path}>${required ? null : html`<option value="">—</option>`}${field.enum.map((value) => html`<option selected=${value === field.default}>${String(value)}</option>`)}</select></label>`;
    }
    if (type === 'object') return html`<fieldset class="wide" title=${title}><legend>${label}</legend><${SchemaFields} schema=${field} prefix=${`${path}.`} /></fieldset>`;
    if (type === 'boolean') return html`<label title=${title}>${label} <input name=${path} type="checkbox" checked=${field.default === true} /></label>`;
    if (type === 'array') return html`<label class="wide" title=${title}>${label}, one per line <textarea name=${path} rows="3"></textarea></label>`;
    if (type === 'number' || type === 'integer') {
      return html`<label title=${title}>${label} <input name=${path} type="number" step=${type === 'integer' ? 1 : 'any'} min=${field.minimum} max=${field.maximum} defaultValue=${field.default} required=${required && field.default === undefined} /></label>`;
    }
    const long = (field.maxLength ?? Infinity) > 200;
    return long
      ? html`<label class="wide" title=${title}>${label} <textarea name=${path} rows="4" required=${required}></textarea></label>`
      : html`<label title=${title}>${label} <input name=${path} maxlength=${field.maxLength} defaultValue=${field.default} required=${required} /></label>`;
  });
}

const scalar = (schema: JsonSchema, text: string): unknown => {
  const type = typeOf(schema);
  return type === 'number' || type === 'integer' ? Number(text) : text;
};

/** The form's values in the schema's shape; an empty optional field is left out (its default applies). */
export function schemaValues(schema: JsonSchema, data: FormData, prefix = ''): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(schema.properties ?? {})) {
    const path = `${prefix}${name}`;
    const type = typeOf(field);
    if (type === 'object' && !field.enum) values[name] = schemaValues(field, data, `${path}.`);
    else if (type === 'boolean') values[name] = data.get(path) !== null;
    else {
      const text = String(data.get(path) ?? '');
      if (type === 'array') values[name] = text.split('\n').filter((line) => line.trim()).map((line) => scalar(field.items ?? {}, line.trim()));
      else if (text !== '') values[name] = scalar(field, text);
    }
  }
  return values;
}
