export {
  BUS_PROTOCOL,
  type BusOptions,
  type DeliveryEvent,
  type Handler,
  type MessageHandler,
  queueMessage,
  type RequestContext,
  type RequestOptions,
  type SendOptions,
  TwinBus,
} from './bus.ts';
export {
  ENVELOPE_CONTEXT,
  type Envelope,
  type EnvelopeHeader,
  openEnvelope,
  sealEnvelope,
  verifyEnvelope,
} from './envelope.ts';
export { BusError, type BusErrorCode } from './errors.ts';
export { createTwinHost, type HostOptions, peerSigningKey, type TwinHost } from './host.ts';
export { type DeliveryStatus, type InboxMessage, Mailbox, type OutboxMessage } from './mailbox.ts';
