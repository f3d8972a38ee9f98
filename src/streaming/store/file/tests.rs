use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::streaming::store::memory::msg_size;

fn opts() -> FileOptions {
    FileOptions {
        sync: false,
        ..Default::default()
    }
}

fn open(dir: &Path) -> FileStore {
    FileStore::open(dir, opts()).unwrap()
}

/// Drops the store without writing out its buffers, as a killed process.
fn crash(mut s: FileStore) {
    s.flush_on_drop = false;
}

use crate::streaming::store::test_records::{info, msg};

fn client(id: &str) -> ClientInfo {
    ClientInfo {
        id: id.into(),
        hb_inbox: format!("_INBOX.{id}"),
        ..Default::default()
    }
}

fn sub(id: u64) -> SubState {
    SubState {
        id,
        client_id: "c".into(),
        inbox: format!("_INBOX.sub{id}"),
        max_in_flight: 10,
        ..Default::default()
    }
}

fn limits(max_msgs: u64) -> ChannelLimits {
    ChannelLimits {
        max_msgs,
        ..Default::default()
    }
}

fn store_n(s: &mut FileStore, ch: &str, seqs: std::ops::RangeInclusive<u64>) {
    for i in seqs {
        s.store_msg(ch, &msg(i, i as i64 * 10, format!("m{i}").as_bytes()))
            .unwrap();
    }
}

fn chan(dir: &Path, f: &str) -> PathBuf {
    dir.join("foo").join(f)
}

fn flip(path: &Path, off: usize) {
    let mut b = fs::read(path).unwrap();
    b[off] ^= 0x5a;
    fs::write(path, b).unwrap();
}

fn cut(path: &Path, by: u64) {
    let f = OpenOptions::new().write(true).open(path).unwrap();
    let len = f.metadata().unwrap().len();
    f.set_len(len - by).unwrap();
}

fn append(path: &Path, bytes: &[u8]) {
    let mut b = fs::read(path).unwrap();
    b.extend_from_slice(bytes);
    fs::write(path, b).unwrap();
}

fn len(path: &Path) -> u64 {
    fs::metadata(path).unwrap().len()
}

fn slice_files(dir: &Path) -> usize {
    fs::read_dir(dir.join("foo"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".dat")
        })
        .count()
        - 2 // channel.dat, subs.dat
}

fn stats(s: &FileStore) -> (u64, u64, u64) {
    let st = s.stats("foo");
    (st.first, st.last, st.msgs)
}

fn is_corrupt<T>(r: Result<T>) -> bool {
    matches!(r, Err(StoreError::Corrupt { .. }))
}

#[test]
fn round_trip_across_reopen() {
    let d = tempfile::tempdir().unwrap();
    let mut s = open(d.path());
    assert!(s.recover().unwrap().is_none());
    s.init(&info()).unwrap();
    s.add_client(&client("a")).unwrap();
    s.add_client(&client("b")).unwrap();
    s.delete_client("a").unwrap();
    s.create_channel("foo", &limits(0)).unwrap();
    s.create_channel("bar.baz", &limits(0)).unwrap();
    store_n(&mut s, "foo", 1..=10);
    s.create_sub("foo", &sub(1)).unwrap();
    s.flush().unwrap();
    crash(s);

    let mut s = open(d.path());
    let r = s.recover().unwrap().unwrap();
    assert_eq!(r.info, info());
    assert_eq!(r.clients, vec![client("b")]);
    let names: Vec<_> = r.channels.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["bar.baz", "foo"]);
    assert_eq!(r.channels[1].subs[0].state, sub(1));
    let bytes: u64 = (1..=10)
        .map(|i| msg_size(&msg(i, i as i64 * 10, format!("m{i}").as_bytes())))
        .sum();
    assert_eq!(
        s.stats("foo"),
        ChannelStats {
            first: 1,
            last: 10,
            msgs: 10,
            bytes
        }
    );
    assert_eq!(s.lookup("foo", 5).unwrap(), Some(msg(5, 50, b"m5")));
    assert_eq!(s.lookup("foo", 11).unwrap(), None);
    assert_eq!(s.first_seq_at_or_after("foo", 45).unwrap(), 5);
    assert_eq!(s.first_seq_at_or_after("foo", 0).unwrap(), 1);
    assert_eq!(s.first_seq_at_or_after("foo", 1000).unwrap(), 11);
    assert_eq!(
        s.stats("bar.baz"),
        ChannelStats {
            first: 1,
            last: 0,
            msgs: 0,
            bytes: 0
        }
    );
    // The store goes on where it was.
    s.store_msg("foo", &msg(11, 110, b"m11")).unwrap();
    assert_eq!(s.lookup("foo", 11).unwrap(), Some(msg(11, 110, b"m11")));
}

#[test]
fn unflushed_writes_are_read_back_and_a_graceful_close_keeps_them() {
    let d = tempfile::tempdir().unwrap();
    let mut s = open(d.path());
    s.create_channel("foo", &limits(0)).unwrap();
    store_n(&mut s, "foo", 1..=3);
    assert_eq!(s.lookup("foo", 2).unwrap(), Some(msg(2, 20, b"m2")));
    assert_eq!(s.first_seq_at_or_after("foo", 25).unwrap(), 3);
    drop(s);
    let mut s = open(d.path());
    assert_eq!(stats(&s), (1, 3, 3));
    assert_eq!(s.lookup("foo", 3).unwrap(), Some(msg(3, 30, b"m3")));
}

#[test]
fn synced_flushes_with_the_default_options() {
    let d = tempfile::tempdir().unwrap();
    assert!(FileOptions::default().sync, "upstream's file_sync default");
    let mut s = FileStore::open(d.path(), FileOptions::default()).unwrap();
    s.init(&info()).unwrap();
    s.create_channel("foo", &limits(0)).unwrap();
    store_n(&mut s, "foo", 1..=3);
    s.create_sub("foo", &sub(1)).unwrap();
    s.flush().unwrap();
    s.delete_channel("foo").unwrap();
    s.create_channel("foo", &limits(0)).unwrap();
    store_n(&mut s, "foo", 1..=2);
    s.flush().unwrap();
    crash(s);
    let mut s = FileStore::open(d.path(), FileOptions::default()).unwrap();
    assert_eq!(stats(&s), (1, 2, 2));
    assert_eq!(s.recover().unwrap().unwrap().channels[0].subs, vec![]);
}

#[test]
fn a_second_open_is_refused_without_waiting() {
    let d = tempfile::tempdir().unwrap();
    let s = open(d.path());
    let err = FileStore::open(d.path(), opts()).unwrap_err();
    assert!(matches!(err, StoreError::Locked), "{err}");
    drop(s);
    FileStore::open(d.path(), opts()).unwrap();
}

#[test]
fn torn_tails_are_cut() {
    let d = tempfile::tempdir().unwrap();
    let mut s = open(d.path());
    s.add_client(&client("a")).unwrap();
    s.create_channel("foo", &limits(0)).unwrap();
    store_n(&mut s, "foo", 1..=3);
    s.create_sub("foo", &sub(1)).unwrap();
    s.add_pending("foo", 1, 2).unwrap();
    s.flush().unwrap();
    crash(s);
    // A short header, a header promising more than there is, a record cut
    // short with its index entry whole, half an index entry.
    append(&d.path().join("clients.dat"), &[7, 0, 0]);
    append(
        &chan(d.path(), "subs.dat"),
        &[100, 0, 0, 4, 1, 2, 3, 4, 9, 9],
    );
    cut(&chan(d.path(), "msgs.1.dat"), 3);
    append(&chan(d.path(), "msgs.1.idx"), &[1; 20]);

    let mut s = open(d.path());
    s.create_channel("foo", &limits(0)).unwrap();
    assert_eq!(stats(&s), (1, 2, 2));
    let r = s.recover().unwrap();
    assert!(r.is_none(), "no server.dat was ever written");
    assert_eq!(s.clients.clients.len(), 1);
    assert_eq!(
        s.channels["foo"].subs.recovered()[0].pending,
        BTreeSet::from([2])
    );
    // Appends continue on clean files.
    s.store_msg("foo", &msg(3, 30, b"again")).unwrap();
    s.add_pending("foo", 1, 3).unwrap();
    s.flush().unwrap();
    crash(s);
    let mut s = open(d.path());
    assert_eq!(stats(&s), (1, 3, 3));
    assert_eq!(s.lookup("foo", 3).unwrap(), Some(msg(3, 30, b"again")));
    assert_eq!(
        s.channels["foo"].subs.recovered()[0].pending,
        BTreeSet::from([2, 3])
    );
}

#[test]
fn a_bad_checksum_on_the_last_record_is_a_torn_write() {
    let d = tempfile::tempdir().unwrap();
    let mut s = open(d.path());
    s.create_channel("foo", &limits(0)).unwrap();
    store_n(&mut s, "foo", 1..=3);
    s.create_sub("foo", &sub(1)).unwrap();
    s.add_pending("foo", 1, 1).unwrap();
    s.ack("foo", 1, 1).unwrap();
    s.flush().unwrap();
    crash(s);
    let dat = chan(d.path(), "msgs.1.dat");
    let dat_len = len(&dat);
    flip(&dat, dat_len as usize - 1);
    let subs = chan(d.path(), "subs.dat");
    flip(&subs, len(&subs) as usize - 1);
    // A tail of zeros, as a file system may leave after a crash.
    append(&d.path().join("clients.dat"), &[0; 64]);

    let mut s = open(d.path());
    assert_eq!(stats(&s), (1, 2, 2));
    assert_eq!(s.lookup("foo", 3).unwrap(), None);
    // The ack was the torn record.
    assert_eq!(
        s.channels["foo"].subs.recovered()[0].pending,
        BTreeSet::from([1])
    );
    assert!(len(&dat) < dat_len);
    assert_eq!(len(&d.path().join("clients.dat")), 4);
    s.store_msg("foo", &msg(3, 30, b"m3")).unwrap();
}

#[test]
fn damage_before_the_end_is_corruption() {
    let d = tempfile::tempdir().unwrap();
    let mut s = open(d.path());
    s.add_client(&client("a")).unwrap();
    s.add_client(&client("b")).unwrap();
    s.create_channel("foo", &limits(0)).unwrap();
    store_n(&mut s, "foo", 1..=3);
    s.create_sub("foo", &sub(1)).unwrap();
    s.add_pending("foo", 1, 1).unwrap();
    drop(s);
    let copy = |name: &str| {
        let to = tempfile::tempdir().unwrap();
        for dir in ["", "foo"] {
            fs::create_dir_all(to.path().join(dir)).unwrap();
            for e in fs::read_dir(d.path().join(dir)).unwrap() {
                let e = e.unwrap();
                if e.file_type().unwrap().is_file() {
                    fs::copy(e.path(), to.path().join(dir).join(e.file_name())).unwrap();
                }
            }
        }
        // The first record's payload (or the first index entry).
        flip(&to.path().join(name), 4 + 8 + 1);
        to
    };
    for name in ["clients.dat", "foo/subs.dat", "foo/msgs.1.idx"] {
        let t = copy(name);
        assert!(is_corrupt(FileStore::open(t.path(), opts())), "{name}");
    }
    // Recovery checks the last message only; a read checks the one it reads.
    let t = copy("foo/msgs.1.dat");
    let mut s = open(t.path());
    assert!(is_corrupt(s.lookup("foo", 1)));
    assert_eq!(s.lookup("foo", 2).unwrap(), Some(msg(2, 20, b"m2")));
}

#[test]
fn a_lost_index_is_rebuilt_from_the_data() {
    let d = tempfile::tempdir().unwrap();
    let mut s = open(d.path());
    s.create_channel("foo", &limits(0)).unwrap();
    store_n(&mut s, "foo", 1..=5);
    drop(s);
    let idx = chan(d.path(), "msgs.1.idx");
    cut(&idx, 3 * 32);
    let s = open(d.path());
    assert_eq!(stats(&s), (1, 5, 5));
    assert_eq!(len(&idx), 4 + 5 * 32);
    drop(s);
    fs::remove_file(&idx).unwrap();
    let mut s = open(d.path());
    assert_eq!(stats(&s), (1, 5, 5));
    for i in 1..=5 {
        assert_eq!(s.lookup("foo", i).unwrap().unwrap().sequence, i);
    }
    assert_eq!(s.first_seq_at_or_after("foo", 31).unwrap(), 4);
}

#[test]
fn limits_across_slices_and_restart() {
    let d = tempfile::tempdir().unwrap();
    let o = FileOptions {
        slice_max_msgs: 3,
        ..opts()
    };
    let mut s = FileStore::open(d.path(), o.clone()).unwrap();
    s.create_channel("foo", &limits(4)).unwrap();
    store_n(&mut s, "foo", 1..=20);
    // Slices of 3: [16 17 18] [19 20]; 16 is dropped but its slice stays.
    assert_eq!(stats(&s), (17, 20, 4));
    assert_eq!(slice_files(d.path()), 2);
    assert_eq!(s.lookup("foo", 16).unwrap(), None);
    assert_eq!(s.lookup("foo", 17).unwrap(), Some(msg(17, 170, b"m17")));
    assert_eq!(s.first_seq_at_or_after("foo", 0).unwrap(), 17);
    let bytes = s.stats("foo").bytes;
    s.flush().unwrap();
    crash(s);
    // Unlimited now: what the limits removed stays removed.
    let mut s = FileStore::open(d.path(), o.clone()).unwrap();
    s.create_channel("foo", &limits(0)).unwrap();
    assert_eq!(
        s.stats("foo"),
        ChannelStats {
            first: 17,
            last: 20,
            msgs: 4,
            bytes
        }
    );
    assert_eq!(s.lookup("foo", 16).unwrap(), None);
    // Lowered limits apply at once.
    s.create_channel("foo", &limits(2)).unwrap();
    assert_eq!(stats(&s), (19, 20, 2));
    assert_eq!(slice_files(d.path()), 1);
    drop(s);
    let s = FileStore::open(d.path(), o).unwrap();
    assert_eq!(stats(&s), (19, 20, 2));
}

#[test]
fn max_bytes_keeps_at_least_one_message() {
    let d = tempfile::tempdir().unwrap();
    let mut s = FileStore::open(
        d.path(),
        FileOptions {
            slice_max_bytes: 200,
            ..opts()
        },
    )
    .unwrap();
    let size = msg_size(&msg(1, 10, &[b'x'; 50]));
    let l = ChannelLimits {
        max_bytes: 3 * size + 1,
        ..Default::default()
    };
    s.create_channel("foo", &l).unwrap();
    for i in 1..=10 {
        s.store_msg("foo", &msg(i, i as i64 * 10, &[b'x'; 50]))
            .unwrap();
    }
    assert_eq!(
        s.stats("foo"),
        ChannelStats {
            first: 8,
            last: 10,
            msgs: 3,
            bytes: 3 * size
        }
    );
    s.store_msg("foo", &msg(11, 110, &[b'y'; 500])).unwrap();
    assert_eq!(stats(&s), (11, 11, 1));
    drop(s);
    let s = open(d.path());
    assert_eq!(stats(&s), (11, 11, 1));
}

#[test]
fn sequences_go_on_after_every_message_expired() {
    let d = tempfile::tempdir().unwrap();
    let o = FileOptions {
        slice_max_msgs: 2,
        ..opts()
    };
    let l = ChannelLimits {
        max_age: Duration::from_nanos(10),
        ..Default::default()
    };
    let mut s = FileStore::open(d.path(), o.clone()).unwrap();
    s.create_channel("foo", &l).unwrap();
    store_n(&mut s, "foo", 1..=5);
    s.expire("foo", 45).unwrap();
    assert_eq!(stats(&s), (4, 5, 2));
    s.expire("foo", 1000).unwrap();
    assert_eq!(stats(&s), (6, 5, 0));
    assert_eq!(s.first_seq_at_or_after("foo", 0).unwrap(), 6);
    assert_eq!(slice_files(d.path()), 1);
    // Not even flushed.
    crash(s);
    let mut s = FileStore::open(d.path(), o.clone()).unwrap();
    s.create_channel("foo", &l).unwrap();
    assert_eq!(stats(&s), (6, 5, 0));
    assert!(s.store_msg("foo", &msg(1, 2000, b"again")).is_err());
    s.store_msg("foo", &msg(6, 2000, b"m6")).unwrap();
    assert_eq!(s.lookup("foo", 6).unwrap(), Some(msg(6, 2000, b"m6")));
    drop(s);
    let s = FileStore::open(d.path(), o).unwrap();
    assert_eq!(stats(&s), (6, 6, 1));
}

#[test]
fn a_flushed_sequence_is_not_reused_when_its_slice_went_before_a_crash() {
    let d = tempfile::tempdir().unwrap();
    let o = FileOptions {
        slice_max_msgs: 1,
        ..opts()
    };
    let mut s = FileStore::open(d.path(), o.clone()).unwrap();
    s.create_channel("foo", &limits(1)).unwrap();
    store_n(&mut s, "foo", 1..=1);
    s.flush().unwrap();
    // 2 starts slice 2 and makes slice 1 dead: it is removed at once,
    // while 2 is still in a buffer.
    store_n(&mut s, "foo", 2..=2);
    assert_eq!(slice_files(d.path()), 1);
    crash(s);
    let s = FileStore::open(d.path(), o).unwrap();
    // 2 was never flushed (never acknowledged); 1 was and stays used.
    assert_eq!(stats(&s), (2, 1, 0));
}

#[test]
fn pending_and_acks_are_recovered() {
    let d = tempfile::tempdir().unwrap();
    let mut s = open(d.path());
    s.create_channel("foo", &limits(0)).unwrap();
    s.create_sub("foo", &sub(1)).unwrap();
    s.create_sub("foo", &sub(2)).unwrap();
    s.create_sub("foo", &sub(3)).unwrap();
    for seq in 1..=5 {
        s.add_pending("foo", 1, seq).unwrap();
    }
    s.ack("foo", 1, 2).unwrap();
    s.ack("foo", 1, 4).unwrap();
    let closed = SubState {
        is_closed: true,
        last_sent: 5,
        ..sub(1)
    };
    s.update_sub("foo", &closed).unwrap();
    s.add_pending("foo", 2, 7).unwrap();
    s.delete_sub("foo", 2).unwrap();
    s.add_pending("foo", 3, 9).unwrap();
    s.ack("foo", 3, 9).unwrap();
    s.flush().unwrap();
    crash(s);

    let mut s = open(d.path());
    let r = s.recover().unwrap();
    assert!(r.is_none());
    let subs = s.channels["foo"].subs.recovered();
    assert_eq!(subs.len(), 2);
    assert_eq!(subs[0].state, closed);
    assert_eq!(subs[0].pending, BTreeSet::from([1, 3, 5]));
    // last_sent comes from the pending records too.
    assert_eq!(subs[1].state.last_sent, 9);
    assert!(subs[1].pending.is_empty());
    s.init(&info()).unwrap();
    let r = s.recover().unwrap().unwrap();
    assert_eq!(r.channels[0].subs, subs);
}

#[test]
fn compaction_rewrites_mostly_dead_files() {
    let d = tempfile::tempdir().unwrap();
    let o = FileOptions {
        compact_min_file_size: 0,
        ..opts()
    };
    let mut s = FileStore::open(d.path(), o.clone()).unwrap();
    s.create_channel("foo", &limits(0)).unwrap();
    s.create_sub("foo", &sub(1)).unwrap();
    for seq in 1..=100 {
        s.add_pending("foo", 1, seq).unwrap();
        if seq != 50 {
            s.ack("foo", 1, seq).unwrap();
        }
    }
    assert!(s.channels["foo"].subs.records() < 10);
    for i in 0..50 {
        s.add_client(&client(&format!("c{i}"))).unwrap();
        if i != 7 {
            s.delete_client(&format!("c{i}")).unwrap();
        }
    }
    s.flush().unwrap();
    assert!(len(&d.path().join("clients.dat")) < 200);
    assert!(!d.path().join("clients.dat.tmp").exists());
    crash(s);
    let s = FileStore::open(d.path(), o).unwrap();
    let subs = s.channels["foo"].subs.recovered();
    assert_eq!(subs[0].pending, BTreeSet::from([50]));
    assert_eq!(subs[0].state.last_sent, 100);
    let ids: Vec<_> = s.clients.clients.keys().cloned().collect();
    assert_eq!(ids, ["c7"]);
}

#[test]
fn delete_channel_removes_its_directory() {
    let d = tempfile::tempdir().unwrap();
    let mut s = open(d.path());
    s.create_channel("foo", &limits(0)).unwrap();
    store_n(&mut s, "foo", 1..=3);
    s.delete_channel("foo").unwrap();
    assert!(!d.path().join("foo").exists());
    assert_eq!(s.stats("foo"), ChannelStats::default());
    assert!(s.lookup("foo", 1).is_err());
    s.create_channel("foo", &limits(0)).unwrap();
    assert_eq!(stats(&s), (1, 0, 0));
    s.delete_channel("foo").unwrap();
    drop(s);
    let s = open(d.path());
    assert!(s.channels.is_empty());
    let left: Vec<_> = fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}"); // .rootdir.lck, clients.dat
}

#[test]
fn reads_keep_at_most_fds_limit_slices_open() {
    let d = tempfile::tempdir().unwrap();
    let mut s = FileStore::open(
        d.path(),
        FileOptions {
            slice_max_msgs: 2,
            fds_limit: 2,
            ..opts()
        },
    )
    .unwrap();
    s.create_channel("foo", &limits(0)).unwrap();
    store_n(&mut s, "foo", 1..=20);
    assert_eq!(s.channels["foo"].slice_count(), 10);
    for _ in 0..2 {
        for i in 1..=20 {
            assert_eq!(s.lookup("foo", i).unwrap().unwrap().sequence, i);
            assert!(s.readers.open.len() <= 2);
        }
    }
    assert_eq!(s.first_seq_at_or_after("foo", 75).unwrap(), 8);
}

#[test]
fn out_of_order_sequences_and_unknown_channels_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let mut s = open(d.path());
    assert!(s.store_msg("foo", &msg(1, 1, b"x")).is_err());
    s.create_channel("foo", &limits(0)).unwrap();
    assert!(s.store_msg("foo", &msg(2, 1, b"x")).is_err());
    s.store_msg("foo", &msg(1, 1, b"x")).unwrap();
    assert!(s.store_msg("foo", &msg(1, 1, b"x")).is_err());
    assert!(s.create_channel("server.dat", &limits(0)).is_err());
}

#[test]
fn slices_are_cut_by_age_from_their_first_message_also_after_restart() {
    let d = tempfile::tempdir().unwrap();
    let sec = 1_000_000_000i64;
    let o = FileOptions {
        slice_max_age: Duration::from_secs(1),
        ..opts()
    };
    let mut s = FileStore::open(d.path(), o.clone()).unwrap();
    s.create_channel("foo", &limits(0)).unwrap();
    let at = |seq: u64, t: i64| msg(seq, t, format!("m{seq}").as_bytes());
    s.store_msg("foo", &at(1, 10 * sec)).unwrap();
    s.store_msg("foo", &at(2, 10 * sec + sec / 2)).unwrap();
    assert_eq!(slice_files(d.path()), 1, "within the age of the first");
    s.store_msg("foo", &at(3, 11 * sec)).unwrap();
    assert_eq!(slice_files(d.path()), 2, "a second after the first message");
    s.flush().unwrap();
    drop(s);
    // The age counts from the recovered slice's first message.
    let mut s = FileStore::open(d.path(), o).unwrap();
    s.create_channel("foo", &limits(0)).unwrap();
    s.store_msg("foo", &at(4, 11 * sec + sec / 2)).unwrap();
    assert_eq!(slice_files(d.path()), 2);
    s.store_msg("foo", &at(5, 12 * sec)).unwrap();
    assert_eq!(slice_files(d.path()), 3);
    assert_eq!(stats(&s), (1, 5, 5));
}

#[cfg(unix)]
#[test]
fn removed_slices_go_to_the_archive_script() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("archived");
    let script = d.path().join("archive.sh");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$1 $(basename \"$2\") $(basename \"$3\")\" >> {out:?}\nrm -f \"$2\" \"$3\"\n"
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let store_dir = d.path().join("store");
    let o = FileOptions {
        slice_max_msgs: 2,
        slice_archive_script: Some(script),
        ..opts()
    };
    let mut s = FileStore::open(&store_dir, o).unwrap();
    s.create_channel("foo", &limits(1)).unwrap();
    // Slices [1 2] [3 4] [5]: the first two leave.
    for i in 1..=5u64 {
        s.store_msg("foo", &msg(i, i as i64, b"x")).unwrap();
    }
    assert_eq!(stats(&s), (5, 5, 1));
    // The script runs on its own thread: wait for it, boundedly.
    let mut lines = String::new();
    for _ in 0..200 {
        lines = fs::read_to_string(&out).unwrap_or_default();
        if lines.lines().count() == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    // Each slice's script runs on its own thread, in any order.
    let mut lines: Vec<&str> = lines.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        [
            "foo msgs.1.dat.bak msgs.1.idx.bak",
            "foo msgs.2.dat.bak msgs.2.idx.bak"
        ]
    );
    drop(s);
    let s = FileStore::open(&store_dir, opts()).unwrap();
    assert_eq!(stats(&s), (5, 5, 1), "recovery ignores what was archived");
}

#[test]
fn without_slice_limits_a_quarter_of_the_channel_limits_applies() {
    let d = tempfile::tempdir().unwrap();
    let o = FileOptions {
        slice_max_bytes: 0,
        ..opts()
    };
    let mut s = FileStore::open(d.path(), o).unwrap();
    s.create_channel("foo", &limits(8)).unwrap();
    // Slices of 8 / 4 = 2: [1 2] [3 4] [5 6] [7 8] [9 10]; 1 and 2 left.
    store_n(&mut s, "foo", 1..=10);
    assert_eq!(stats(&s), (3, 10, 8));
    assert_eq!(slice_files(d.path()), 4);
}
