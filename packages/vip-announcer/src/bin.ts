#!/usr/bin/env node
import { exitSoon } from '@has/daemon-kit'
import { main } from './cli.js'
process.title = 'vip-announcer'
exitSoon(await main(process.argv))
