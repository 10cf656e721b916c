import { realtime } from '../../utils/realtime.js'

export default defineEventHandler(() => realtime.stats())
