#!/usr/bin/env python3
"""Baseline for bench/upload.bench.ts: the same upload pipeline with the common Python tools.

Each repeat: copy the received file to a working file, sniff its magic bytes, scan it with
`clamdscan --stream` (a separate process, as deployments run it; --inproc uses a small
INSTREAM client over a socket instead), re-encode with Pillow (auto-orient from EXIF, drop
every metadata block, JPEG quality 90 with 4:4:4 chroma, standard Huffman tables as ours), and store
it the way our local driver does (temp file, fsync, rename). Prints one JSON line.

  python3 bench/upload_flow.py --file photo.jpg --repeats 4 --dir /tmp/x [--inproc]
  (CLAMD_HOST, CLAMD_PORT in the environment)
"""
import argparse
import json
import os
import resource
import shutil
import socket
import struct
import subprocess
import time

from PIL import Image, ImageOps

Image.MAX_IMAGE_PIXELS = 40_000_000  # UPLOAD_MAX_PIXELS' default

MAGIC = {b'\xff\xd8\xff': 'jpeg', b'\x89PNG\r\n\x1a\n': 'png', b'GIF87a': 'gif', b'GIF89a': 'gif'}


def sniff(path):
    with open(path, 'rb') as f:
        head = f.read(4100)
    for magic, kind in MAGIC.items():
        if head.startswith(magic):
            return kind
    if head[:4] == b'RIFF' and head[8:12] == b'WEBP':
        return 'webp'
    raise ValueError('unsupported type')


def scan_clamdscan(path, conf):
    done = subprocess.run(['clamdscan', '--config-file', conf, '--stream', '--no-summary', path], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f'clamdscan: {done.returncode} {done.stdout} {done.stderr}')


def scan_inproc(path, host, port):
    with socket.create_connection((host, port), timeout=60) as s, open(path, 'rb') as f:
        s.sendall(b'zINSTREAM\0')
        while True:
            chunk = f.read(64 * 1024)
            if not chunk:
                break
            s.sendall(struct.pack('>I', len(chunk)) + chunk)
        s.sendall(struct.pack('>I', 0))
        reply = b''
        while not reply.endswith(b'\0'):
            data = s.recv(4096)
            if not data:
                break
            reply += data
    if reply.rstrip(b'\0') != b'stream: OK':
        raise RuntimeError(reply)


def store(src, key_path):
    os.makedirs(os.path.dirname(key_path), exist_ok=True)
    tmp = key_path + '.tmp'
    with open(src, 'rb') as f, open(tmp, 'wb') as out:
        shutil.copyfileobj(f, out, 1024 * 1024)
        out.flush()
        os.fsync(out.fileno())
    os.rename(tmp, key_path)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--file', required=True)
    parser.add_argument('--dir', required=True)
    parser.add_argument('--repeats', type=int, default=4)
    parser.add_argument('--inproc', action='store_true')
    args = parser.parse_args()
    host = os.environ.get('CLAMD_HOST', '127.0.0.1')
    port = int(os.environ.get('CLAMD_PORT', '3310'))
    conf = os.path.join(args.dir, 'clamd-client.conf')
    with open(conf, 'w') as f:
        f.write(f'TCPSocket {port}\nTCPAddr {host}\n')
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    seconds = []
    out_bytes = 0
    for i in range(args.repeats):
        work = os.path.join(args.dir, f'work-{i}')
        os.makedirs(work)
        started = time.perf_counter()
        received = os.path.join(work, 'received')
        shutil.copyfile(args.file, received)
        sniff(received)
        if args.inproc:
            scan_inproc(received, host, port)
        else:
            scan_clamdscan(received, conf)
        with Image.open(received) as im:
            upright = ImageOps.exif_transpose(im).convert('RGB')
            encoded = os.path.join(work, 'encoded.jpg')
            upright.save(encoded, 'JPEG', quality=90, subsampling=0, optimize=False)
        key = os.path.join(args.dir, 'storage', 'uploads', str(i), 'original.jpg')
        store(encoded, key)
        seconds.append(time.perf_counter() - started)
        out_bytes = os.path.getsize(key)
        shutil.rmtree(work)
    print(json.dumps({
        'seconds': seconds,
        'rss_before': rss_before,
        'peak_rss': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        'children_peak_rss': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
        'output_bytes': out_bytes,
    }))


if __name__ == '__main__':
    main()
