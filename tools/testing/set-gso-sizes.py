#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""set-gso-sizes.py SIZE DEV...

Sets the largest GSO and GRO packet of each DEV in the current network namespace to SIZE,
for IPv6 and IPv4 alike (above 65536 is BIG TCP): one RTM_NEWLINK each. iproute2 before 6.3
cannot set the IPv4 sizes (gso_ipv4_max_size, gro_ipv4_max_size)."""
import os
import socket
import struct
import sys

RTM_NEWLINK = 16
NLMSG_ERROR = 2
NLM_F_REQUEST = 1
NLM_F_ACK = 4
# include/uapi/linux/if_link.h
IFLA_GSO_MAX_SIZE = 41
IFLA_GRO_MAX_SIZE = 58
IFLA_GSO_IPV4_MAX_SIZE = 63
IFLA_GRO_IPV4_MAX_SIZE = 64
SIZES = (IFLA_GSO_MAX_SIZE, IFLA_GRO_MAX_SIZE, IFLA_GSO_IPV4_MAX_SIZE, IFLA_GRO_IPV4_MAX_SIZE)


def set_sizes(sock, seq, dev, size):
    # struct ifinfomsg, then one u32 attribute per size.
    body = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, socket.if_nametoindex(dev), 0, 0)
    body += b"".join(struct.pack("=HHI", 8, kind, size) for kind in SIZES)
    header = struct.pack("=IHHII", 16 + len(body), RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq, 0)
    sock.send(header + body)
    reply = sock.recv(4096)
    kind = struct.unpack_from("=H", reply, 4)[0]
    error = struct.unpack_from("=i", reply, 16)[0]
    if kind != NLMSG_ERROR:
        sys.exit(f"set-gso-sizes.py: {dev}: unexpected reply type {kind}")
    if error:
        sys.exit(f"set-gso-sizes.py: {dev}: {os.strerror(-error)}")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    size = int(sys.argv[1])
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as sock:
        for seq, dev in enumerate(sys.argv[2:], 1):
            set_sizes(sock, seq, dev, size)


main()
