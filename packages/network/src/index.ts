export {
  BUS_PROTOCOL,
  type BusOptions,
  type Handler,
  type RequestContext,
  type RequestOptions,
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
