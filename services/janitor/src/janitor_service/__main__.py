from janitor_service.main import main

main()
