#!/usr/bin/env python3
# sqlite-bank.py: the application of the SQLite tests.  A bank in WAL
# mode: 100 accounts of 1000, and numbered transfers between them, each
# with a checksum chained to the one before, each committed with the two
# balance updates in one transaction.
#
#   sqlite-bank.py init DB
#   sqlite-bank.py run DB LOG STOPFILE   transfer until STOPFILE exists,
#                                        about 200 a second; append the id
#                                        of each to LOG once committed
#   sqlite-bank.py steps DB N [--restart]
#                                        N transfers, then with --restart a
#                                        checkpoint that restarts the WAL
#   sqlite-bank.py hold DB READY STOPFILE
#                                        keep the database open (as the
#                                        application does, so that its -wal
#                                        stays), touch READY, and wait
#                                        until STOPFILE exists
#   sqlite-bank.py check DB...           exit 0 and print the number of
#                                        transfers of each, one a line, if
#                                        they are 1..N with an unbroken
#                                        chain and the balances are those
#                                        they give; else exit 1
import hashlib
import os
import sqlite3
import sys
import time

ACCOUNTS = 100
START = 1000


def transfer_of(n):
    """The n-th transfer, the same every time."""
    h = hashlib.sha256(b"transfer %d" % n).digest()
    src = h[0] % ACCOUNTS + 1
    dst = (src + h[1] % (ACCOUNTS - 1)) % ACCOUNTS + 1
    return src, dst, h[2] % 50 + 1


def chain(prev, n, src, dst, amount):
    return hashlib.sha256(
        ("%s:%d:%d:%d:%d" % (prev, n, src, dst, amount)).encode()).hexdigest()


def connect(path):
    db = sqlite3.connect(path, timeout=60, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    return db


def one(db):
    db.execute("BEGIN IMMEDIATE")
    row = db.execute(
        "SELECT id, chain FROM transfers ORDER BY id DESC LIMIT 1").fetchone()
    n, prev = (row[0] + 1, row[1]) if row else (1, "")
    src, dst, amount = transfer_of(n)
    db.execute("INSERT INTO transfers VALUES (?, ?, ?, ?, ?)",
               (n, src, dst, amount, chain(prev, n, src, dst, amount)))
    db.execute("UPDATE accounts SET balance = balance - ? WHERE id = ?",
               (amount, src))
    db.execute("UPDATE accounts SET balance = balance + ? WHERE id = ?",
               (amount, dst))
    db.execute("COMMIT")
    return n


def check(path):
    """The number of transfers in "path", after checking them all."""
    db = sqlite3.connect(path)
    bal = {i: START for i in range(1, ACCOUNTS + 1)}
    prev, want = "", 1
    for n, src, dst, amount, ch in db.execute(
            "SELECT * FROM transfers ORDER BY id"):
        if n != want:
            sys.exit("sqlite-bank: %s: transfer %d missing" % (path, want))
        if (src, dst, amount) != transfer_of(n) or \
                ch != chain(prev, n, src, dst, amount):
            sys.exit("sqlite-bank: %s: transfer %d is not the one made"
                     % (path, n))
        bal[src] -= amount
        bal[dst] += amount
        prev, want = ch, n + 1
    got = dict(db.execute("SELECT id, balance FROM accounts"))
    if got != bal:
        sys.exit("sqlite-bank: %s: balances differ from the transfers" % path)
    db.close()
    return want - 1


def main(argv):
    cmd, path = argv[1], argv[2]
    if cmd == "init":
        db = connect(path)
        db.execute("CREATE TABLE accounts(id INTEGER PRIMARY KEY,"
                   " balance INTEGER NOT NULL)")
        db.execute("CREATE TABLE transfers(id INTEGER PRIMARY KEY,"
                   " src INTEGER NOT NULL REFERENCES accounts,"
                   " dst INTEGER NOT NULL REFERENCES accounts,"
                   " amount INTEGER NOT NULL, chain TEXT NOT NULL)")
        db.executemany("INSERT INTO accounts VALUES (?, ?)",
                       [(i, START) for i in range(1, ACCOUNTS + 1)])
        return 0
    if cmd == "run":
        log, stop = argv[3], argv[4]
        db = connect(path)
        with open(log, "a") as f:
            while not os.path.exists(stop):
                f.write("%d\n" % one(db))
                f.flush()
                time.sleep(0.005)
        return 0
    if cmd == "hold":
        db = connect(path)
        db.execute("SELECT count(*) FROM accounts").fetchone()
        open(argv[3], "w").close()
        while not os.path.exists(argv[4]):
            time.sleep(0.02)
        db.close()
        return 0
    if cmd == "steps":
        db = connect(path)
        db.execute("PRAGMA wal_autocheckpoint=0")
        for _ in range(int(argv[3])):
            one(db)
        if "--restart" in argv[4:]:
            r = db.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
            if r[0] != 0:
                sys.exit("sqlite-bank: the checkpoint was blocked")
        return 0
    if cmd == "check":
        for p in argv[2:]:
            print(check(p))
        return 0
    sys.exit("sqlite-bank: unknown command %s" % cmd)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
