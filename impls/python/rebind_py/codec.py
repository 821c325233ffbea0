"""Frames of spec §3–§5: encoding, decoding with the error precedence of §3.4, and a stream reader.

Written from the layouts of the spec (§4.1–§4.13, §5.1–§5.8), not from another implementation.

A message is a plain ``dict``: ``{'type': 'DATA', 'offset': 0, 'data': b'hello'}``. Every flag the
type defines is a ``bool`` member (``'fast': False``); integers are Python ``int`` (u64 offsets
need no special care); cid, token and data are ``bytes``; addr and reason are ``str``.

    frame = encode({'type': 'REBOUND', 'hid': 1})
    message, size = decode(frame)              # raises FrameError('FRAME_...') on a bad frame
    reader = FrameReader(limit=1 << 20, channel='wire')
    for message in reader.feed(chunk): ...     # frames back to back on a byte stream (§11.1);
    if reader.error: ...                       # a malformed frame stopped the stream

@module
"""
import struct

from .errors import FrameError

VERSION = 1                      # §3.1: the version byte of protocol version 1
HEADER = 8                       # §3.1: version, type, flags (u16), payload length (u32)
DEFAULT_LIMIT = 1 << 20          # §3.3: 1 MiB default payload limit
CEILING = 16 << 20               # §3.3: absolute ceiling, 16 MiB
MAX_TEXT = 1024                  # §3.2: addr 1..1024 bytes, reason 0..1024 bytes
U64_END = 1 << 64                # §4.2: offset + n must not exceed 2^64
ZERO_CID = bytes(16)

# Field kinds of §3.2 with a fixed size; addr, reason and data are variable.
_FIXED = {'u8': 1, 'u16': 2, 'u32': 4, 'u64': 8, 'cid': 16, 'token': 16}
_INT_FORMAT = {'u8': '>B', 'u16': '>H', 'u32': '>I', 'u64': '>Q'}


class Field:
    """One payload field of a layout: its name, kind (§3.2), range and when it is present."""

    def __init__(self, name, kind, lo=None, hi=None, nonzero=False, when=None):
        self.name = name
        self.kind = kind
        self.lo = lo
        self.hi = hi
        self.nonzero = nonzero   # a cid that must not be all zero (§2.2)
        self.when = when         # present only when this flag is set (SUSPEND's fast form, §4.4)


class Layout:
    """A frame type: number, name, channel class (§3.1), flag bits and payload fields."""

    def __init__(self, number, name, channel, flags, fields):
        self.number = number
        self.name = name
        self.channel = channel   # 'wire' (C1/C2, §4) or 'local' (L, §5)
        self.flags = flags       # flag name -> bit
        self.fields = fields


def _f(*args, **kwargs):
    return Field(*args, **kwargs)


# The frame types of §3.1, with the layouts of §4 and §5 (byte order big-endian, §3.2).
LAYOUTS = [
    Layout(0x01, 'HELLO', 'wire', {'fast': 0, 'acceptor': 1}, [        # §4.1
        _f('cid', 'cid'), _f('maxPayload', 'u32', 1024, CEILING), _f('credits', 'u32')]),
    Layout(0x02, 'DATA', 'wire', {}, [                                  # §4.2
        _f('offset', 'u64'), _f('data', 'data')]),
    Layout(0x03, 'FIN', 'wire', {}, [_f('offset', 'u64')]),             # §4.3
    Layout(0x04, 'SUSPEND', 'wire', {'fast': 0}, [                      # §4.4
        _f('hid', 'u32', 1), _f('sendEnd', 'u64', when='fast'), _f('token', 'token', when='fast'),
        _f('addr', 'addr', when='fast')]),
    Layout(0x05, 'SUSPENDED', 'wire', {}, [                             # §4.5
        _f('hid', 'u32', 1), _f('sendEnd', 'u64'), _f('recvOffset', 'u64')]),
    Layout(0x06, 'REBIND', 'wire', {}, [                                # §4.6
        _f('hid', 'u32', 1), _f('sendEnd', 'u64'), _f('token', 'token'), _f('addr', 'addr')]),
    Layout(0x07, 'ATTACH', 'wire', {'peerFin': 0}, [                    # §4.7
        _f('cid', 'cid', nonzero=True), _f('hid', 'u32', 1), _f('token', 'token'),
        _f('recvOffset', 'u64'), _f('sendOffset', 'u64'), _f('credits', 'u32')]),
    Layout(0x08, 'ATTACHED', 'wire', {}, [                              # §4.8
        _f('hid', 'u32', 1), _f('recvOffset', 'u64'), _f('sendOffset', 'u64'), _f('credits', 'u32')]),
    Layout(0x09, 'REBOUND', 'wire', {}, [_f('hid', 'u32', 1)]),         # §4.9
    Layout(0x0A, 'ABORT', 'wire', {}, [_f('hid', 'u32', 1), _f('code', 'u16')]),   # §4.10
    Layout(0x0B, 'REFUSE', 'wire', {}, [_f('hid', 'u32'), _f('code', 'u16')]),     # §4.11: hid echoed, any
    Layout(0x0C, 'ERROR', 'wire', {}, [_f('code', 'u16'), _f('reason', 'reason')]),  # §4.12
    Layout(0x0D, 'CREDIT', 'wire', {}, [_f('credits', 'u32', 1)]),      # §4.13
    Layout(0x41, 'JOIN', 'local', {}, [_f('pid', 'u32'), _f('addr', 'addr')]),     # §5.1
    Layout(0x42, 'NEED', 'local', {}, [                                 # §5.2
        _f('cid', 'cid', nonzero=True), _f('trigger', 'u8', 3, 4)]),
    Layout(0x43, 'ORDER', 'local', {'fast': 0, 'originFin': 1}, [       # §5.3
        _f('cid', 'cid', nonzero=True), _f('hid', 'u32', 1), _f('token', 'token'), _f('sendEnd', 'u64')]),
    Layout(0x44, 'COPY', 'local', {}, [                                 # §5.4
        _f('cid', 'cid', nonzero=True), _f('hid', 'u32', 1), _f('offset', 'u64'), _f('data', 'data')]),
    Layout(0x45, 'COPIED', 'local', {'peerFin': 0}, [                   # §5.5
        _f('cid', 'cid', nonzero=True), _f('hid', 'u32', 1), _f('recvEnd', 'u64')]),
    Layout(0x46, 'COMMIT', 'local', {}, [_f('cid', 'cid', nonzero=True), _f('hid', 'u32', 1)]),  # §5.6
    Layout(0x47, 'REVOKE', 'local', {}, [                               # §5.7
        _f('cid', 'cid', nonzero=True), _f('hid', 'u32', 1), _f('code', 'u16')]),
    Layout(0x48, 'RELEASE', 'local', {}, [_f('cid', 'cid', nonzero=True)]),       # §5.8
]

BY_NUMBER = {layout.number: layout for layout in LAYOUTS}
BY_NAME = {layout.name: layout for layout in LAYOUTS}


def _present(layout, field, flags):
    return field.when is None or bool(flags & (1 << layout.flags[field.when]))


# ---------------------------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------------------------

def encode(message):
    """The frame of a message (header + payload, §3.1). The sender sets only defined flags."""
    layout = BY_NAME[message['type']]
    flags = 0
    for name, bit in layout.flags.items():
        if message.get(name):
            flags |= 1 << bit
    parts = []
    for field in layout.fields:
        if not _present(layout, field, flags):
            continue
        value = message[field.name]
        if field.kind in _INT_FORMAT:
            parts.append(struct.pack(_INT_FORMAT[field.kind], value))
        elif field.kind in ('cid', 'token'):
            if len(value) != 16:
                raise ValueError('%s must be 16 bytes' % field.name)
            parts.append(bytes(value))
        elif field.kind in ('addr', 'reason'):
            text = value.encode('utf-8')
            parts.append(struct.pack('>H', len(text)) + text)
        else:  # data: the rest of the payload
            parts.append(bytes(value))
    payload = b''.join(parts)
    return struct.pack('>BBHI', VERSION, layout.number, flags, len(payload)) + payload


# ---------------------------------------------------------------------------------------------
# Decoding (§3.4: the first failure in this order is the frame's one error)
# ---------------------------------------------------------------------------------------------

def check_header(buf, limit=DEFAULT_LIMIT, channel=None):
    """Steps 1–4 of §3.4 from the 8 header bytes alone. Returns (layout, flags, payload length).

    ``channel`` is 'wire', 'local' or None (decoding one frame without a channel: both classes).
    """
    if len(buf) < HEADER:
        raise FrameError('FRAME_TRUNCATED', 'fewer than 8 header bytes', '3.4')           # 1
    version, number, flags, length = struct.unpack_from('>BBHI', buf, 0)
    if version != VERSION:
        raise FrameError('FRAME_BAD_VERSION', 'version %d' % version, '3.1')             # 2
    layout = BY_NUMBER.get(number)
    if layout is None or (channel is not None and layout.channel != channel):
        raise FrameError('FRAME_UNKNOWN_TYPE', 'type 0x%02x' % number, '3.4')           # 3
    if length > min(limit, CEILING):
        raise FrameError('FRAME_TOO_LARGE', 'payload length %d above %d' % (length, limit), '3.3')  # 4
    return layout, flags, length


def _parse_layout(layout, flags, payload):
    """Step 7 of §3.4: cut the payload into raw field values; any misfit is FRAME_BAD_LENGTH."""
    values = []
    at = 0
    end = len(payload)
    for field in layout.fields:
        if not _present(layout, field, flags):
            continue
        if field.kind in _FIXED:
            size = _FIXED[field.kind]
            if at + size > end:
                raise FrameError('FRAME_BAD_LENGTH', '%s %s: payload too short' % (layout.name, field.name), '3.4')
            raw = payload[at:at + size]
            at += size
            if field.kind in _INT_FORMAT:
                values.append((field, struct.unpack(_INT_FORMAT[field.kind], raw)[0]))
            else:
                values.append((field, bytes(raw)))
        elif field.kind in ('addr', 'reason'):
            if at + 2 > end:
                raise FrameError('FRAME_BAD_LENGTH', '%s %s: no length' % (layout.name, field.name), '3.4')
            (count,) = struct.unpack_from('>H', payload, at)
            at += 2
            if at + count > end:
                raise FrameError('FRAME_BAD_LENGTH', '%s %s: length %d runs past the payload' % (layout.name, field.name, count), '3.4')
            values.append((field, bytes(payload[at:at + count])))
            at += count
        else:  # data: to the end of the payload
            values.append((field, bytes(payload[at:end])))
            at = end
    if at != end:
        raise FrameError('FRAME_BAD_LENGTH', '%s: %d bytes after the last field' % (layout.name, end - at), '3.4')
    return values


def _check_fields(layout, flags, values):
    """Step 8 of §3.4: field ranges (§3.2) in layout order, then HELLO's cid/acceptor rule."""
    message = {'type': layout.name}
    for name, bit in layout.flags.items():
        message[name] = bool(flags & (1 << bit))
    offset = None
    for field, value in values:
        where = '%s %s' % (layout.name, field.name)
        if field.kind in _INT_FORMAT:
            if (field.lo is not None and value < field.lo) or (field.hi is not None and value > field.hi):
                raise FrameError('FRAME_BAD_FIELD', '%s = %d out of range' % (where, value), '3.2')
            if field.name == 'offset':
                offset = value
        elif field.kind == 'cid':
            if field.nonzero and value == ZERO_CID:
                raise FrameError('FRAME_BAD_FIELD', '%s is zero' % where, '2.2')
        elif field.kind in ('addr', 'reason'):
            low = 1 if field.kind == 'addr' else 0
            if not low <= len(value) <= MAX_TEXT:
                raise FrameError('FRAME_BAD_FIELD', '%s of %d bytes' % (where, len(value)), '3.2')
            try:
                # Python's strict UTF-8 decoder rejects overlong forms, surrogates and cut sequences.
                value = value.decode('utf-8')
            except UnicodeDecodeError:
                raise FrameError('FRAME_BAD_FIELD', '%s is not UTF-8' % where, '3.2') from None
        elif field.kind == 'data':
            if len(value) < 1:
                raise FrameError('FRAME_BAD_FIELD', '%s is empty' % where, '3.2')
            if offset is not None and offset + len(value) > U64_END:
                raise FrameError('FRAME_BAD_FIELD', '%s ends beyond offset 2^64' % where, '4.2')
        message[field.name] = value
    if layout.name == 'HELLO' and (message['cid'] != ZERO_CID) != message['acceptor']:
        raise FrameError('FRAME_BAD_FIELD', 'HELLO cid contradicts the acceptor flag', '4.1')
    return message


def decode_payload(layout, flags, payload):
    """Steps 6–8 of §3.4 on a complete frame whose header passed steps 1–4."""
    undefined = flags & ~sum(1 << bit for bit in layout.flags.values())
    if undefined:
        raise FrameError('FRAME_BAD_FLAGS', '%s flags 0x%04x' % (layout.name, flags), '3.1')  # 6
    return _check_fields(layout, flags, _parse_layout(layout, flags, payload))               # 7, 8


def decode(buf, limit=DEFAULT_LIMIT, channel=None):
    """Decodes the frame at the start of ``buf``: returns (message, frame size) or raises FrameError."""
    layout, flags, length = check_header(buf, limit, channel)
    if len(buf) < HEADER + length:
        raise FrameError('FRAME_TRUNCATED', 'payload of %d bytes announced, %d present' % (length, len(buf) - HEADER), '3.4')  # 5
    payload = memoryview(buf)[HEADER:HEADER + length]
    return decode_payload(layout, flags, payload), HEADER + length


def decode_one(buf, limit=DEFAULT_LIMIT, channel=None):
    """Decodes a buffer that must hold exactly one frame (a message transport, or a vector):
    bytes after the frame are FRAME_BAD_LENGTH (§3.4 step 7)."""
    message, size = decode(buf, limit, channel)
    if size != len(buf):
        raise FrameError('FRAME_BAD_LENGTH', '%d bytes after the frame' % (len(buf) - size), '3.4')
    return message


class FrameReader:
    """Frames back to back on a byte stream (§11.1, §11.3).

    Header checks (steps 1–4) happen as soon as 8 bytes are there, before the payload is buffered
    (§3.3); a short frame waits for more bytes, and is FRAME_TRUNCATED only at end of stream.
    After a malformed frame, ``error`` holds its FrameError and nothing more is decoded.
    """

    def __init__(self, limit=DEFAULT_LIMIT, channel=None):
        self.limit = limit
        self.channel = channel
        self.buffer = bytearray()
        self.error = None

    def feed(self, chunk):
        """Adds bytes; returns the complete good messages now available, in order. A malformed
        frame stops decoding and sets ``error`` (the good frames before it are still returned)."""
        if self.error is not None:
            return []
        self.buffer += chunk
        messages = []
        try:
            while len(self.buffer) >= HEADER:
                layout, flags, length = check_header(self.buffer, self.limit, self.channel)
                if len(self.buffer) < HEADER + length:
                    break
                payload = bytes(self.buffer[HEADER:HEADER + length])
                del self.buffer[:HEADER + length]
                messages.append(decode_payload(layout, flags, payload))
        except FrameError as error:
            self.error = error
        return messages

    def end(self):
        """End of stream: bytes left inside a frame are FRAME_TRUNCATED (§11.1)."""
        if self.buffer and self.error is None:
            self.error = FrameError('FRAME_TRUNCATED', 'end of stream inside a frame (%d bytes)' % len(self.buffer), '11.1')
        return self.error


# ---------------------------------------------------------------------------------------------
# The JSON form of §3.2 (vectors and tools): u64 as decimal strings, bytes as lower-case hex
# ---------------------------------------------------------------------------------------------

def to_json(message):
    """The JSON form of a message (§3.2)."""
    layout = BY_NAME[message['type']]
    out = {'type': layout.name}
    for name in layout.flags:
        out[name] = bool(message.get(name))
    for field in layout.fields:
        if field.name not in message:
            continue
        value = message[field.name]
        if field.kind == 'u64':
            out[field.name] = str(value)
        elif field.kind in ('cid', 'token', 'data'):
            out[field.name] = bytes(value).hex()
        else:
            out[field.name] = value
    return out


def from_json(obj):
    """A message from its JSON form (§3.2)."""
    layout = BY_NAME[obj['type']]
    message = {'type': layout.name}
    for name in layout.flags:
        message[name] = bool(obj.get(name, False))
    for field in layout.fields:
        if field.name not in obj:
            continue
        value = obj[field.name]
        if field.kind == 'u64':
            value = int(value)
        elif field.kind in ('cid', 'token', 'data'):
            value = bytes.fromhex(value)
        message[field.name] = value
    return message
