#!/usr/bin/env node
process.title = 'hasctl'
import { exitSoon } from '@has/daemon-kit'
import { main } from './cli.js'
exitSoon(await main(process.argv))
