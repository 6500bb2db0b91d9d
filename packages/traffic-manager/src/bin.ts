#!/usr/bin/env node
process.title = 'traffic-manager'
import { exitSoon } from '@has/daemon-kit/core'
import { main } from './cli.js'
exitSoon(await main(process.argv))
