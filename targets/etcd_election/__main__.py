"""``python -m chaoskit.targets.etcd_election``: one campaigning client and its etcd member."""

from chaoskit.targets.etcd_election._client import main

if __name__ == "__main__":
    main()
