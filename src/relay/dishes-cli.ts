// `bun run dishes [--restaurant ID] [--url URL] [--token T | --username U --password P]`
// The source's dish tool, talking to jobgraph's GraphQL API: lists the restaurants, or one restaurant's dishes,
// as a table.
import {
  CliError,
  CONNECTION_OPTIONS,
  type Credentials,
  defaultUrl,
  graphqlEndpoint,
  graphqlRequest as request,
  parseCommandLine,
  runTool,
  tokenFor,
} from '../cli/graphql-client';

const USAGE = 'usage: bun run dishes [--restaurant ID] [--url URL] [--token TOKEN | --username NAME --password PW]';

/** A plain-text table: a header, a rule, and the rows, each column as wide as its widest cell. */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n') + '\n';
}

/** `1 dish`, `2 dishes`. */
const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

const cell = (value: unknown) => (value === null || value === undefined ? '' : typeof value === 'number' ? value.toFixed(2) : String(value));

export async function runDishesCli(options: Credentials & { url: string; restaurant?: string }): Promise<string> {
  // Without credentials it asks anonymously: a relay the server opens to everyone (ANONYMOUS_ACCESS=relay) answers.
  const token = options.token || options.username ? await tokenFor(options.url, options) : undefined;
  const graphqlRequest: typeof request = (...args) =>
    request(...args).catch((error: Error) => {
      if (token || !error.message.includes('user info error')) throw error;
      throw new CliError('the server does not open its relay to everyone: pass --token, set JOBGRAPH_TOKEN, or give --username and --password');
    });
  if (options.restaurant === undefined) {
    const data = await graphqlRequest<{ restaurants: { identifier: string | null; name: string | null }[] }>(options.url, token, {
      query: '{ restaurants { identifier name } }',
    });
    return formatTable(['IDENTIFIER', 'NAME'], data.restaurants.map((r) => [cell(r.identifier), cell(r.name)])) + `${count(data.restaurants.length, 'restaurant', 'restaurants')}\n`;
  }
  const data = await graphqlRequest<{ restaurant: { identifier: string; name: string; dishes: { name: string | null; price: number | null; description: string | null }[] | null } | null }>(
    options.url,
    token,
    { query: 'query($id: ID!) { restaurant(id: $id) { identifier name dishes { name price description } } }', variables: { id: options.restaurant } },
  );
  if (!data.restaurant) throw new CliError(`no restaurant with identifier "${options.restaurant}"`);
  const dishes = data.restaurant.dishes ?? [];
  return (
    `${data.restaurant.name} (${data.restaurant.identifier})\n\n` +
    formatTable(['DISH', 'PRICE', 'DESCRIPTION'], dishes.map((d) => [cell(d.name), cell(d.price), cell(d.description)])) +
    `${count(dishes.length, 'dish', 'dishes')}\n`
  );
}

if (import.meta.main) {
  await runTool('dishes', USAGE, async () => {
    const { values } = parseCommandLine(Bun.argv.slice(2), { ...CONNECTION_OPTIONS, restaurant: { type: 'string', short: 'r' } });
    if (values.help) return console.log(USAGE);
    const url = values.url ?? defaultUrl();
    const token = values.token ?? process.env.JOBGRAPH_TOKEN;
    process.stdout.write(
      await runDishesCli({ url: graphqlEndpoint(url), restaurant: values.restaurant, token, username: values.username, password: values.password ?? process.env.JOBGRAPH_PASSWORD }),
    );
  });
}
