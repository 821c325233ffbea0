/**
 * The kit's cases (spec §15, §15.1), gathered from their groups. Ids are stable and hierarchical:
 * `kit.adapter.*` the contract itself, `kit.server.*` the implementation's origin and successor
 * against the kit as the peer, `kit.fault.*` faults and misbehaviour the kit injects,
 * `kit.client.*` the implementation's peer against the kit as origin and successor.
 *
 * @module
 */
import type { KitCase } from '../run.js';
import { SERVER_CASES } from './server.js';
import { FAULTS_CASES } from './faults.js';
import { CLIENT_CASES } from './client.js';

export const KIT_CASES: readonly KitCase[] = [...SERVER_CASES, ...FAULTS_CASES, ...CLIENT_CASES];
