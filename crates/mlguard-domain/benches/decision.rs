//! The cost of one authorization decision (`mlguard_domain::decide`), for each of
//! the ways it can go: admin, a row on the own key (`explicit_grant`), a row on a
//! fallback key, the default.
//! Target (issue 5): under 1 µs. Run with `cargo bench -p mlguard-domain`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mlguard_domain::{Capability, Permission, Principal, Standing, Username, decide};

fn principal(is_admin: bool) -> Principal {
    Principal {
        user_id: 7,
        username: Username::parse("alice").expect("valid name"),
        is_admin,
    }
}

fn standing(chain: &[Option<Permission>]) -> Standing<'_> {
    Standing {
        workspace_admin: false,
        chain,
    }
}

fn decision(c: &mut Criterion) {
    let admin = principal(true);
    let user = principal(false);
    let mut group = c.benchmark_group("decide");
    // black_box on every input, so the compiler cannot fold the answer in.
    group.bench_function("admin", |b| {
        b.iter(|| {
            decide(
                black_box(&admin),
                black_box(standing(&[None])),
                black_box(Permission::NoPermissions),
                black_box(Capability::Delete),
            )
        })
    });
    group.bench_function("explicit_grant", |b| {
        b.iter(|| {
            decide(
                black_box(&user),
                black_box(standing(&[Some(Permission::Read)])),
                black_box(Permission::NoPermissions),
                black_box(Capability::Read),
            )
        })
    });
    group.bench_function("fallback_key", |b| {
        b.iter(|| {
            decide(
                black_box(&user),
                black_box(standing(&[None, None, Some(Permission::Edit)])),
                black_box(Permission::NoPermissions),
                black_box(Capability::Update),
            )
        })
    });
    group.bench_function("default", |b| {
        b.iter(|| {
            decide(
                black_box(&user),
                black_box(standing(&[None])),
                black_box(Permission::Read),
                black_box(Capability::Read),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, decision);
criterion_main!(benches);
