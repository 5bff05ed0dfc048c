// What the resident forms (software/step-resident.wgsl, software/sweep-resident.wgsl) share
// besides their weights: the rows an invocation takes, the subgroup lane, and the entry point,
// which hands the invocation's function variable of weights to residentWalk.

// Rows a row block holds: 4 with BATCH_TILE, else 1.
#if BATCH_TILE
const ROWS: u32 = 4u;
#else
const ROWS: u32 = 1u;
#endif

#if SUBGROUPS
// The invocation's lane in its subgroup, which loads element k0 + resLane of each block of sRes
// for the product to broadcast to the other lanes (residentLanes; not with matrices, which
// subgroupBroadcast does not take).
var<private> resLane: u32;
#endif

@compute @workgroup_size(WG)
#if SUBGROUPS
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  resLane = lane;
#else
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
#endif
  var wResMain: ResMain;
  residentWalk(lid.x, wid.y, wid.z, nwg.y, &wResMain);
}
