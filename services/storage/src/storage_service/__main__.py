from storage_service.main import main

main()
