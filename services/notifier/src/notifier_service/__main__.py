from notifier_service.main import main

main()
