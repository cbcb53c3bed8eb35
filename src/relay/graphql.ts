import { builder } from '../graphql/builder';
import type { RelayResponse } from './service';

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const text = (value: unknown) => (typeof value === 'string' ? value : typeof value === 'number' ? String(value) : null);
const number = (value: unknown) => (typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : null);

type UpstreamObject = Record<string, unknown>;

const HeaderType = builder.simpleObject('HttpHeader', { fields: (t) => ({ name: t.string(), value: t.string() }) });

const RelayResponseType = builder.objectRef<RelayResponse>('RelayResponse').implement({
  description: 'An upstream answer as the relay gave it, and where it came from.',
  authScopes: { reader: 'relay' },
  fields: (t) => ({
    path: t.exposeString('path'),
    url: t.exposeString('url', { description: 'The upstream URL (always under RELAY_UPSTREAM).' }),
    status: t.exposeInt('status'),
    headers: t.field({
      type: [HeaderType],
      description: 'The headers of interest: content-type, cache-control, etag, last-modified, expires, age, date, vary.',
      resolve: (response) => Object.entries(response.headers).map(([name, value]) => ({ name, value })),
    }),
    body: t.field({ type: 'JSON', nullable: true, resolve: (response) => response.body }),
    cached: t.exposeBoolean('cached', { description: 'Answered from the cache (fresh, revalidated or stale).' }),
    stale: t.exposeBoolean('stale', { description: 'Past its freshness, served because the upstream failed.' }),
    revalidated: t.exposeBoolean('revalidated', { description: 'The upstream confirmed the cached copy (304).' }),
    fetchedAt: t.field({ type: 'DateTime', resolve: (response) => response.fetchedAt }),
  }),
});

const DishType = builder.objectRef<UpstreamObject>('Dish').implement({
  description: 'A dish as the upstream describes it; `fields` keeps everything it sent.',
  authScopes: { reader: 'relay' },
  fields: (t) => ({
    name: t.string({ nullable: true, resolve: (dish) => text(dish.name) }),
    price: t.float({ nullable: true, resolve: (dish) => number(dish.price) }),
    description: t.string({ nullable: true, resolve: (dish) => text(dish.description) }),
    fields: t.field({ type: 'JSON', description: 'The upstream object, unknown fields included.', resolve: (dish) => dish }),
  }),
});

const RestaurantType = builder.objectRef<UpstreamObject>('Restaurant').implement({
  description: 'A restaurant as the upstream describes it; `fields` keeps everything it sent.',
  authScopes: { reader: 'relay' },
  fields: (t) => ({
    identifier: t.string({ nullable: true, resolve: (restaurant) => text(restaurant.identifier ?? restaurant.id) }),
    name: t.string({ nullable: true, resolve: (restaurant) => text(restaurant.name) }),
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
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, ctx) => ctx.relay.restaurant(String(id), ctx.freshness),
  }),
  relay: t.field({
    type: RelayResponseType,
    authScopes: { reader: 'relay' },
    description: 'GET any path under RELAY_UPSTREAM, through the cache (the path cannot leave the upstream).',
    args: { path: t.arg.string({ required: true }) },
    resolve: (_root, { path }, ctx) => ctx.relay.get(path),
  }),
}));
