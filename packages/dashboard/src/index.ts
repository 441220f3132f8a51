/**
 * @ieum/dashboard: a live dashboard and frame inspector for an @ieum/realtime `RealtimeServer`
 * or an @ieum/websocket `WebSocketServer`, fed over ieum itself. Opt-in and token-authenticated.
 */
export {
  Dashboard,
  type DashboardOptions,
  type DashboardTarget,
  DEFAULT_TARGET_NAME,
  MIN_TOKEN_LENGTH,
  mountDashboard,
  statsChannel,
} from './dashboard.js';
export { DEFAULT_INSPECTOR, type InspectorLimits } from './frame-tail.js';
export type { ChannelStats, ConnectionStats, Frame, Rates, Sample, TailTarget, Totals } from './sample.js';
