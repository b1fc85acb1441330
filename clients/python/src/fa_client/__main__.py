from fa_client.cli import main

raise SystemExit(main())
