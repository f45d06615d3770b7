PingRollCommand.main()
