use super::*;
use schloss_protocol::frame::FrameError;
use tokio::io::{AsyncWriteExt, DuplexStream};

const MIB: usize = 1024 * 1024;

fn rules(memory: &RequestMemory, authenticated: bool, frame_timeout_ms: u64) -> FrameRules<'_> {
    FrameRules {
        limit: if authenticated {
            100 * MIB
        } else {
            PRE_AUTH_MAX_BYTES
        },
        authenticated,
        frame_timeout: Duration::from_millis(frame_timeout_ms),
        idle_timeout: Duration::from_secs(600),
        memory,
    }
}

fn pair() -> (FrameReader<DuplexStream>, DuplexStream) {
    let (ours, theirs) = tokio::io::duplex(4 * MIB);
    (FrameReader::new(ours), theirs)
}

fn size(n: usize) -> [u8; 4] {
    i32::try_from(n).unwrap().to_be_bytes()
}

#[tokio::test]
async fn a_claim_above_the_pre_auth_cap_is_refused_before_reserving_anything() {
    let memory = RequestMemory::new(Some(512 * MIB));
    let (mut reader, mut client) = pair();
    client.write_all(&size(100 * MIB)).await.unwrap();
    let meter = Meter::new();
    let err = reader
        .next_frame(&rules(&memory, false, 10_000), &meter)
        .await
        .err()
        .unwrap();
    assert!(matches!(
        err,
        CloseReason::Frame(FrameError::TooLarge { limit, .. }) if limit == PRE_AUTH_MAX_BYTES
    ));
    assert_eq!(memory.available(), Some(512 * MIB));
}

#[tokio::test]
async fn before_authentication_only_arrived_bytes_are_reserved() {
    let memory = RequestMemory::new(Some(512 * MIB));
    let (mut reader, mut client) = pair();
    let meter = Meter::new();
    let rules = rules(&memory, false, 10_000);
    // A size at the cap and nothing else: the claim alone reserves nothing.
    client.write_all(&size(PRE_AUTH_MAX_BYTES)).await.unwrap();
    let frame = reader.next_frame(&rules, &meter);
    tokio::pin!(frame);
    let pending = tokio::time::timeout(Duration::from_millis(100), &mut frame).await;
    assert!(pending.is_err());
    assert_eq!(memory.available(), Some(512 * MIB));
    // Part of the body: exactly that part is reserved.
    client.write_all(&[0u8; 1000]).await.unwrap();
    let pending = tokio::time::timeout(Duration::from_millis(100), &mut frame).await;
    assert!(pending.is_err());
    assert_eq!(memory.available(), Some(512 * MIB - 1000));
    // The whole frame holds its size until the frame is dropped.
    client
        .write_all(&vec![0u8; PRE_AUTH_MAX_BYTES - 1000])
        .await
        .unwrap();
    let (body, held) = frame.await.unwrap().unwrap();
    assert_eq!(body.len(), PRE_AUTH_MAX_BYTES);
    assert_eq!(memory.available(), Some(512 * MIB - PRE_AUTH_MAX_BYTES));
    drop(held);
    assert_eq!(memory.available(), Some(512 * MIB));
}

#[tokio::test]
async fn an_authenticated_frame_reserves_its_whole_size_up_front() {
    let memory = RequestMemory::new(Some(512 * MIB));
    let (mut reader, mut client) = pair();
    let meter = Meter::new();
    let rules = rules(&memory, true, 10_000);
    client.write_all(&size(10 * MIB)).await.unwrap();
    let frame = reader.next_frame(&rules, &meter);
    tokio::pin!(frame);
    assert!(tokio::time::timeout(Duration::from_millis(100), &mut frame)
        .await
        .is_err());
    assert_eq!(memory.available(), Some(502 * MIB));
}

#[tokio::test]
async fn unauthenticated_connections_hold_at_most_a_quarter_of_the_pool() {
    // A 4 MiB pool: the pre-auth share is 1 MiB, two frames at the cap.
    let memory = RequestMemory::new(Some(4 * MIB));
    let meter = Meter::new();
    let pre = rules(&memory, false, 300);
    let mut held = Vec::new();
    let mut clients = Vec::new();
    for _ in 0..2 {
        let (mut reader, mut client) = pair();
        client.write_all(&size(PRE_AUTH_MAX_BYTES)).await.unwrap();
        client
            .write_all(&vec![0u8; PRE_AUTH_MAX_BYTES])
            .await
            .unwrap();
        held.push(reader.next_frame(&pre, &meter).await.unwrap().unwrap());
        clients.push(client);
    }
    // A third stranger waits for the share, and the wait ends at its frame timeout ...
    let (mut reader, mut client) = pair();
    client.write_all(&size(100)).await.unwrap();
    client.write_all(&[0u8; 100]).await.unwrap();
    let err = reader.next_frame(&pre, &meter).await.err().unwrap();
    assert!(matches!(err, CloseReason::MemoryTimeout(_)), "{err}");
    // ... while an authenticated connection still gets the rest of the pool.
    let (mut reader, mut client) = pair();
    client.write_all(&size(2 * MIB)).await.unwrap();
    client.write_all(&vec![0u8; 2 * MIB]).await.unwrap();
    let authenticated = rules(&memory, true, 300);
    let (body, _held) = reader
        .next_frame(&authenticated, &meter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(body.len(), 2 * MIB);
}

#[tokio::test]
async fn waiting_for_the_pool_counts_against_the_frame_timeout() {
    let memory = RequestMemory::new(Some(MIB));
    let meter = Meter::new();
    let authenticated = rules(&memory, true, 300);
    // One frame claims the whole pool ...
    let (mut hog, mut hog_client) = pair();
    hog_client.write_all(&size(MIB)).await.unwrap();
    let hog_frame = hog.next_frame(&authenticated, &meter);
    tokio::pin!(hog_frame);
    assert!(
        tokio::time::timeout(Duration::from_millis(50), &mut hog_frame)
            .await
            .is_err()
    );
    // ... so a whole small frame cannot get its memory, and gives up at the frame timeout.
    let (mut reader, mut client) = pair();
    client.write_all(&size(10)).await.unwrap();
    client.write_all(&[0u8; 10]).await.unwrap();
    let err = reader
        .next_frame(&authenticated, &meter)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, CloseReason::MemoryTimeout(_)), "{err}");
}
