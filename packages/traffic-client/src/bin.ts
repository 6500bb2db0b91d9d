#!/usr/bin/env node
import { exitSoon } from '@has/daemon-kit'
import { main } from './cli.js'
process.title = 'traffic-client'
exitSoon(await main(process.argv))
