"""rebind_py: a second, independent implementation of the rebind protocol (spec/rebind.md) in
Python 3, standard library only: the frame codec (§3–§5), the server side (origin and successor,
§7.1, §7.2) and the peer (§7.3) in the stop-and-wait order (§6.2) over TCP (§11.1), with the local
channel on a socketpair made before os.fork() (§11.3).

Modules: ``codec`` (frames), ``errors`` (§12), ``loop`` (a small event loop), ``channel`` (framed
sockets), ``stream`` (offsets and application reads/writes, §6.4), ``origin``, ``successor``,
``peer`` (the three state machines), ``host`` (one process: listeners, local channels, fork, exit),
``trace`` (trace lines, §13.1).

@module
"""
