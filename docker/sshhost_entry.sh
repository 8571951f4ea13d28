#!/bin/sh
# Entry of the chaoskit-sshhost image: authorize the key given at run time for root and
# for `chaos`, make fresh host keys, run sshd in the foreground (logs to stderr).
set -eu
key="${CHAOSKIT_AUTHORIZED_KEY:?set CHAOSKIT_AUTHORIZED_KEY to a public key}"
for home in /root /home/chaos; do
    mkdir -p "$home/.ssh"
    printf '%s\n' "$key" > "$home/.ssh/authorized_keys"
    chmod 700 "$home/.ssh"
    chmod 600 "$home/.ssh/authorized_keys"
done
chown -R chaos:chaos /home/chaos/.ssh
ssh-keygen -A >/dev/null
mkdir -p /run/sshd
exec /usr/sbin/sshd -D -e
