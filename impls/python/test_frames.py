"""The golden frame vectors (vectors/frames/frames.json, spec §3–§5) against rebind_py.codec.

Run from this directory with ``python3 -m unittest``. Each valid vector must decode, using every
byte, to its message and the message must encode to exactly its bytes; each invalid vector must
fail with the stated error (§3.4 precedence; bytes after one frame are FRAME_BAD_LENGTH).

@module
"""
import json
import os
import unittest

from rebind_py import codec
from rebind_py.errors import FrameError

VECTORS = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'vectors', 'frames', 'frames.json')


def load_tests_from_file():
    with open(VECTORS, encoding='utf-8') as f:
        data = json.load(f)
    tests = [t for group in data['testGroups'] for t in group['tests']]
    return data, tests


class FrameVectors(unittest.TestCase):
    def test_count(self):
        data, tests = load_tests_from_file()
        self.assertEqual(len(tests), data['numberOfTests'])
        self.assertGreater(len(tests), 100)

    def test_every_vector(self):
        _, tests = load_tests_from_file()
        checked = {'valid': 0, 'invalid': 0}
        for t in tests:
            with self.subTest(tcId=t['tcId'], id=t['id']):
                raw = bytes.fromhex(t['hex'].replace(' ', ''))
                if t['result'] == 'valid':
                    message = codec.decode_one(raw)
                    self.assertEqual(codec.to_json(message), codec.to_json(codec.from_json(t['message'])))
                    self.assertEqual(codec.to_json(message), t['message'])
                    self.assertEqual(codec.encode(codec.from_json(t['message'])).hex(), raw.hex())
                else:
                    with self.assertRaises(FrameError) as caught:
                        codec.decode_one(raw)
                    self.assertEqual(caught.exception.name, t['error'], caught.exception)
                checked[t['result']] += 1
        self.assertGreater(checked['valid'], 0)
        self.assertGreater(checked['invalid'], 0)

    def test_stream_reader_splits_and_truncates(self):
        """§11.1: frames split over any number of reads; FRAME_TRUNCATED only at end of stream."""
        frames = codec.encode({'type': 'DATA', 'offset': 0, 'data': b'hello'}) + codec.encode({'type': 'FIN', 'offset': 5})
        reader = codec.FrameReader(channel='wire')
        got = []
        for i in range(len(frames)):
            got += reader.feed(frames[i:i + 1])
        self.assertEqual([m['type'] for m in got], ['DATA', 'FIN'])
        reader.feed(frames[:3])
        self.assertIsNone(reader.error)
        self.assertEqual(reader.end().name, 'FRAME_TRUNCATED')

    def test_channel_class(self):
        """§3.4 step 3: a local type on a wire channel is FRAME_UNKNOWN_TYPE, and the reverse."""
        join = codec.encode({'type': 'JOIN', 'pid': 1, 'addr': 'tcp://127.0.0.1:1'})
        data = codec.encode({'type': 'DATA', 'offset': 0, 'data': b'x'})
        reader = codec.FrameReader(channel='wire')
        self.assertEqual([m['type'] for m in reader.feed(data + join + data)], ['DATA'])  # good frames before it
        self.assertEqual(reader.error.name, 'FRAME_UNKNOWN_TYPE')
        self.assertEqual(reader.feed(data), [])
        self.assertEqual(codec.FrameReader(channel='local').feed(join)[0]['pid'], 1)

    def test_too_large_from_header_alone(self):
        """§3.3: the limit is checked from the header, before the payload arrives."""
        reader = codec.FrameReader(limit=1024, channel='wire')
        self.assertEqual(reader.feed(bytes.fromhex('0102000000000401')), [])
        self.assertEqual(reader.error.name, 'FRAME_TOO_LARGE')


if __name__ == '__main__':
    unittest.main()
