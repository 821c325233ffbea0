/**
 * The wire layer (spec §3–§5): frame constants, message types, the codec, the stream reader and
 * the JSON form of messages.
 *
 * @module
 */
export {
  FrameType,
  FrameFlags,
  MESSAGE_NAMES,
  HEADER_SIZE,
  PROTOCOL_VERSION,
  MAX_PAYLOAD_DEFAULT,
  MAX_PAYLOAD_CEILING,
  CID_SIZE,
  TOKEN_SIZE,
  ADDR_MAX_BYTES,
  REASON_MAX_BYTES,
  definedFlagMask,
  frameTypeName,
  frameChannel,
  type MessageName,
} from './frame.js';
export type * from './messages.js';
export {
  MESSAGE_SCHEMA_ID,
  encodeFrame,
  tryDecodeFrame,
  decodeFrame,
  FrameReader,
  messageToJson,
  messageFromJson,
  type DecodeOptions,
  type EncodeOptions,
  type DecodeResult,
} from './codec.js';
