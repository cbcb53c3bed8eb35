// What a subscription field promises about its events, so the WebSocket transport can execute each event once per
// group of subscribers instead of once per subscriber (src/http/fan-out.ts). A field without a hint is executed per
// subscriber, as graphql-ws does.
import type { GraphQLSchema } from 'graphql';
import type { AuthUser } from '../services';

export interface FanOutHint {
  /**
   * Who sees the same events and the same fields: subscribers of one role with the same audience, asking the same
   * document with the same variables, get byte-identical payloads. The role is always part of the group, so a field
   * whose answer depends only on the role returns a constant here.
   */
  audience(user: AuthUser | null): string;
  /** The stream begins with the current state (then each change): a late joiner gets the group's latest payload. */
  replaysLatest?: boolean;
}

const FAN_OUT = 'fanOut';

/** For a subscription field's `extensions`. */
export const fanOutExtension = (hint: FanOutHint) => ({ [FAN_OUT]: hint });

/** The hint of a root subscription field, if it has one. */
export function fanOutHintOf(schema: GraphQLSchema, fieldName: string): FanOutHint | undefined {
  return schema.getSubscriptionType()?.getFields()[fieldName]?.extensions[FAN_OUT] as FanOutHint | undefined;
}

/** Every subscriber of the role sees the same thing (the field's own rules decide who may subscribe at all). */
export const sameForTheRole = () => 'all';
