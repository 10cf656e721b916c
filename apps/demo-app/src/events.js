// The chat's events, written once for the server (app.js) and the page (page.js): the types as
// JSDoc, the runtime checks as Standard Schema validators (hand-written here so the demo needs no
// validation library; zod, valibot or arktype schemas go in the same place).

/**
 * Events the server sends.
 * @typedef {{
 *   chat: { id: number, user: string, text: string },
 *   typing: { user: string },
 *   joined: { user: string },
 *   left: { user: string },
 *   notification: { message: string },
 * }} ServerEvents
 */

/**
 * Events the page sends: each a function from its data to what the server answers.
 * @typedef {{
 *   'send-message': (data: { text: string }) => { id: number },
 *   typing: (data?: undefined) => void,
 *   wait: (data: { ms: number }) => { waited: number },
 *   refuse: (data?: undefined) => never,
 *   crash: (data?: undefined) => never,
 * }} ClientEvents
 */

/** A Standard Schema (https://standardschema.dev) from a check that returns a problem or nothing. */
const schema = (check) => ({
  '~standard': {
    version: 1,
    vendor: 'demo',
    validate: (value) => {
      const problem = check(value)
      return problem ? { issues: [problem] } : { value }
    },
  },
})

export const schemas = {
  'send-message': schema((value) => {
    const text = value?.text
    if (typeof text !== 'string') return { message: 'text must be a string', path: ['text'] }
    if (text.trim() === '' || text.length > 500) return { message: 'text must have 1 to 500 characters', path: ['text'] }
  }),
  wait: schema((value) => (Number.isInteger(value?.ms) && value.ms >= 0 && value.ms <= 10_000 ? undefined : { message: 'ms must be an integer from 0 to 10000', path: ['ms'] })),
}
