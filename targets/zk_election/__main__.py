"""``python -m chaoskit.targets.zk_election``: one candidate and its ZooKeeper server."""

from chaoskit.targets.zk_election._client import main

if __name__ == "__main__":
    main()
