import { builder } from '../graphql/builder';
import type { RelayResponse } from './service';

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const text = (value: unknown) => (typeof value === 'string' ? value : typeof value === 'number' ? String(value) : null);
const number = (value: unknown) => (typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : null);

type UpstreamObject = Record<string, unknown>;

const HeaderType = builder.simpleObject('HttpHeader', {
  description: 'One response header kept from the upstream.',
  fields: (t) => ({ name: t.string({ description: 'Lower-case, e.g. `cache-control`.' }), value: t.string({ description: 'As the upstream sent it.' }) }),
});

const RelayResponseType = builder.objectRef<RelayResponse>('RelayResponse').implement({
  description: 'An upstream answer as the relay gave it, and where it came from.',
  authScopes: { reader: 'relay' },
  fields: (t) => ({
    path: t.exposeString('path', { description: 'The path asked for, relative to RELAY_UPSTREAM.' }),
    url: t.exposeString('url', { description: 'The upstream URL (always under RELAY_UPSTREAM).' }),
    status: t.exposeInt('status', { description: 'The upstream’s HTTP status (of the cached answer when served from the cache).' }),
    headers: t.field({
      type: [HeaderType],
      description: 'The headers of interest: content-type, cache-control, etag, last-modified, expires, age, date, vary.',
      resolve: (response) => Object.entries(response.headers).map(([name, value]) => ({ name, value })),
    }),
    body: t.field({ type: 'JSON', nullable: true, description: 'The JSON body; null when the upstream sent none.', resolve: (response) => response.body }),
    cached: t.exposeBoolean('cached', { description: 'Answered from the cache (fresh, revalidated or stale).' }),
    stale: t.exposeBoolean('stale', { description: 'Past its freshness, served because the upstream failed.' }),
    revalidated: t.exposeBoolean('revalidated', { description: 'The upstream confirmed the cached copy (304).' }),
    fetchedAt: t.field({ type: 'DateTime', description: 'When the upstream last answered (or confirmed) it.', resolve: (response) => response.fetchedAt }),
  }),
});

const DishType = builder.objectRef<UpstreamObject>('Dish').implement({
  description: 'A dish as the upstream describes it; `fields` keeps everything it sent.',
  authScopes: { reader: 'relay' },
  fields: (t) => ({
    name: t.string({ nullable: true, description: 'The upstream’s `name`; null when missing or not text.', resolve: (dish) => text(dish.name) }),
    price: t.float({ nullable: true, description: 'The upstream’s `price` as a number (numeric text too); null otherwise.', resolve: (dish) => number(dish.price) }),
    description: t.string({ nullable: true, description: 'The upstream’s `description`; null when missing.', resolve: (dish) => text(dish.description) }),
    fields: t.field({ type: 'JSON', description: 'The upstream object, unknown fields included.', resolve: (dish) => dish }),
  }),
});

const RestaurantType = builder.objectRef<UpstreamObject>('Restaurant').implement({
  description: 'A restaurant as the upstream describes it; `fields` keeps everything it sent.',
  authScopes: { reader: 'relay' },
  fields: (t) => ({
    identifier: t.string({ nullable: true, description: 'The upstream’s `identifier` (or `id`): what `restaurant(id)` takes.', resolve: (restaurant) => text(restaurant.identifier ?? restaurant.id) }),
    name: t.string({ nullable: true, description: 'The upstream’s `name`; null when missing.', resolve: (restaurant) => text(restaurant.name) }),
    dishes: t.field({
      type: [DishType],
      nullable: true,
      description: 'Present when the upstream lists them (on `restaurant(id)`).',
      resolve: (restaurant) => (Array.isArray(restaurant.dishes) ? restaurant.dishes.filter(isObject) : null),
    }),
    fields: t.field({ type: 'JSON', description: 'The upstream object, unknown fields included.', resolve: (restaurant) => restaurant }),
  }),
});

builder.queryFields((t) => ({
  restaurants: t.field({
    type: [RestaurantType],
    authScopes: { reader: 'relay' },
    description: 'GET <RELAY_UPSTREAM>/restaurant, through the cache.',
    resolve: async (_root, _args, ctx) => ctx.relay.restaurants(ctx.freshness),
  }),
  restaurant: t.field({
    type: RestaurantType,
    nullable: true,
    authScopes: { reader: 'relay' },
    description: 'GET <RELAY_UPSTREAM>/restaurant/<id>, through the cache; null when the upstream has no such restaurant.',
    args: { id: t.arg.id({ required: true, description: 'The restaurant’s `identifier` in the upstream.' }) },
    resolve: async (_root, { id }, ctx) => ctx.relay.restaurant(String(id), ctx.freshness),
  }),
  relay: t.field({
    type: RelayResponseType,
    authScopes: { reader: 'relay' },
    description: 'GET any path under RELAY_UPSTREAM, through the cache (the path cannot leave the upstream).',
    args: { path: t.arg.string({ required: true, description: 'Relative to RELAY_UPSTREAM, e.g. `restaurant/r1`; a path that would leave it (`..`, another host) is BAD_USER_INPUT.' }) },
    resolve: (_root, { path }, ctx) => ctx.relay.get(path),
  }),
}));

builder.mutationField('clearRelayCache', (t) =>
  t.int({
    authScopes: { admin: true },
    description:
      'Admin: forgets every cached upstream answer (this instance’s memory and the database); returns how many this instance held. Other instances keep their memory of the entries until they restart.',
    resolve: (_root, _args, ctx) => ctx.relay.clear(),
  }),
);
