"""Summarise a py-spy raw (collapsed) profile: self and inclusive time per function.

python -m bench.pyspy_top .run-bench/profile-ingest-5000.txt [--match psa_] [--top 40]
"""

import argparse
import collections
import re


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("profile")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--match", default="", help="only stacks containing this text")
    parser.add_argument("--busy", action="store_true", help="drop idle stacks (select/poll/accept)")
    args = parser.parse_args()
    inclusive, own = collections.Counter(), collections.Counter()
    total = 0
    idle = re.compile(
        r"\\b(select|poll|accept|sleep|wait|_wait_for_tstate_lock|recv_into|epoll)\\b"
    )
    with open(args.profile) as profile:
        lines = profile.readlines()
    for line in lines:
        stack, _sep, count = line.rstrip().rpartition(" ")
        if not count.isdigit() or (args.match and args.match not in stack):
            continue
        frames = stack.split(";")
        if args.busy and idle.search(frames[-1]):
            continue
        n = int(count)
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    print(f"{total} samples")
    print("-- inclusive")
    for frame, n in inclusive.most_common(args.top):
        print(f"{100 * n / total:5.1f}%  {frame[:160]}")
    print("-- self")
    for frame, n in own.most_common(args.top // 2):
        print(f"{100 * n / total:5.1f}%  {frame[:160]}")


if __name__ == "__main__":
    main()
