"""Trace lines in the notation of spec §13.1, for the kit's artefacts (§15.1) and for debugging.

Off until ``set_hook(fn)`` is called; ``fn(cid_hex_or_None, line)`` then receives each line:

    @1712345678901.123 O ~> P SUSPEND fast=false hid=1
    @1712345678901.456 S40123 <~ O COPIED peerFin=false cid=0x… hid=1 recvEnd=8
    @1712345678902.001 O rebound

Times are wall-clock milliseconds, so lines of several processes can be merged. Long data fields
are written in full (the checker of §13.2 follows the bytes), tokens are left out (a line need not list
every field, §13.1; §8.1 keeps tokens out of traces meant for others).

@module
"""
import json
import re
import time

from . import codec

_hook = None
_BARE = re.compile(r'^[A-Za-z_][A-Za-z0-9_.:/-]*$')


def set_hook(hook):
    global _hook
    _hook = hook


def enabled():
    return _hook is not None


def _value(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return '0x' + bytes(value).hex()
    text = str(value)
    return text if _BARE.match(text) and text not in ('true', 'false') else json.dumps(text)


def _emit(cid, text):
    if _hook is not None:
        _hook(cid.hex() if isinstance(cid, (bytes, bytearray)) else None, '@%.3f %s' % (time.time() * 1000, text))


def message(cid, kind, actor, other, msg):
    """A frame sent (``A ~> B``) or received (``A <~ B``, A the receiver) (§13.1)."""
    if _hook is None:
        return
    layout = codec.BY_NAME[msg['type']]
    fields = []
    for name in layout.flags:
        fields.append('%s=%s' % (name, _value(bool(msg.get(name)))))
    for field in layout.fields:
        if field.name not in msg or field.kind == 'token':
            continue
        value = msg[field.name]
        if field.kind == 'u16' and field.name == 'code':
            from .errors import name_of
            fields.append('code=%s' % name_of(value))
            continue
        fields.append('%s=%s' % (field.name, _value(value)))
    arrow = '~>' if kind == 'send' else '<~'
    _emit(cid, '%s %s %s %s%s' % (actor, arrow, other, msg['type'], ''.join(' ' + f for f in fields)))


def action(cid, actor, name, *args, **fields):
    """An application or environment action: ``O close``, ``S1 trigger T3``, ``O fail code=TIMEOUT``."""
    if _hook is None:
        return
    parts = [actor, name] + [str(a) for a in args] + ['%s=%s' % (k, _value(v)) for k, v in fields.items()]
    _emit(cid, ' '.join(parts))
