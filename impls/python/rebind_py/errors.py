"""Error codes of spec §12 and the exception that carries them.

Names are the spec's (``TIMEOUT``, ``FRAME_BAD_FIELD`` ...); ``ERR_`` + name is what the kit's
adapter contract (§15.1) reports. The numbers travel on the wire in ABORT, REFUSE, REVOKE and
ERROR frames (§3.2: a receiver must not reject a frame because its code is unknown).

@module
"""

# §12: name -> u16 code. Only the codes an implementation sends or reports; the trace and vector
# codes (0x06xx) belong to the tools, not to a protocol implementation.
CODES = {
    'FRAME_TRUNCATED': 0x0101,
    'FRAME_TOO_LARGE': 0x0102,
    'FRAME_UNKNOWN_TYPE': 0x0103,
    'FRAME_BAD_VERSION': 0x0104,
    'FRAME_BAD_LENGTH': 0x0105,
    'FRAME_BAD_FLAGS': 0x0106,
    'FRAME_BAD_FIELD': 0x0107,
    'UNEXPECTED_MESSAGE': 0x0201,
    'OFFSET_MISMATCH': 0x0202,
    'UNKNOWN_CONNECTION': 0x0203,
    'HANDOFF_MISMATCH': 0x0204,
    'CAPABILITY': 0x0205,
    'COLLISION': 0x0206,
    'TOKEN_INVALID': 0x0301,
    'TOKEN_REPLAYED': 0x0302,
    'TOKEN_EXPIRED': 0x0303,
    'TIMEOUT': 0x0401,
    'ABORTED': 0x0402,
    'ORIGIN_LOST': 0x0403,
    'SUCCESSOR_LOST': 0x0404,
    'PEER_LOST': 0x0405,
    'TRANSPORT_FAILED': 0x0406,
    'REVOKED': 0x0407,
    'REBOUND': 0x0408,      # never on the wire
    'CLOSED': 0x0409,
    'UNREACHABLE': 0x040A,
    'STREAM_GAP': 0x040B,
    'REFUSE': 0x040C,
    'NO_DEVICE': 0x0501,    # never on the wire
    'UNSUPPORTED': 0x0502,  # never on the wire
    'INVALID_ARGUMENT': 0x0503,  # never on the wire
}

NAMES = {code: name for name, code in CODES.items()}


def code_of(name):
    """The u16 of an error name (§12)."""
    return CODES[name]


def name_of(code):
    """The name of a u16 code, or ``CODE_0x....`` for a code this implementation does not know."""
    return NAMES.get(code, 'CODE_0x%04x' % code)


class RebindError(Exception):
    """A typed failure: ``name`` is a §12 name (``TIMEOUT``), ``section`` the spec section."""

    def __init__(self, name, message='', section=None):
        super().__init__(message or name)
        self.name = name
        self.section = section

    @property
    def code(self):
        """``ERR_`` + name, as the adapter contract reports it (§15.1)."""
        return 'ERR_' + self.name


class FrameError(RebindError):
    """A decoding error of §3.4 (``FRAME_*``)."""
